"""Batch index samplers over a decoded split: the P x K identity sampler and plain shuffling.

Samplers produce whole epochs of index batches from an explicit ``torch.Generator`` (CPU),
so the engine can checkpoint the generator and resume mid-run with the same batches.
"""
from __future__ import annotations

import torch


class PKSampler:
    """P identities x K images per batch (Hermans et al. 2017), batch = P * K.

    The batch is ordered identity by identity: rows ``[i*K, (i+1)*K)`` share one label, which
    is what lets DDP cut a batch into per-rank slices of whole identities.

    Epoch length (``epoch`` argument):
        ``"ids"``: one pass over the identities (MGN / CGPN samplers, pal.md §4.4, cgpn.md §4):
            shuffle the ids, give each K images, drop the last incomplete group of P:
            ``floor(#ids / P)`` batches.
        ``"images"``: each image about once (torchreid's ``RandomIdentitySampler``; RMGL A10,
            MPN, PLR): each id's shuffled images are cut into chunks of K (the last chunk
            topped up from the id's own images), then batches take P distinct random ids
            that still have chunks, until fewer than P remain.
    An identity with fewer than K images is sampled with replacement in both modes.
    """

    def __init__(self, labels: torch.Tensor, p: int, k: int, epoch: str = "images"):
        if epoch not in ("ids", "images"):
            raise ValueError(f"sampler epoch must be 'ids' or 'images', got {epoch!r}")
        labels = labels.cpu()
        self.p, self.k, self.epoch = p, k, epoch
        ids = torch.unique(labels)
        if len(ids) < p:
            raise ValueError(f"P x K sampler needs at least P={p} identities, the split has {len(ids)}")
        self.index_of = [torch.nonzero(labels == i).flatten() for i in ids]

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def _k_images(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if len(idx) >= self.k:
            return idx[torch.randperm(len(idx), generator=gen)[: self.k]]
        return idx[torch.randint(len(idx), (self.k,), generator=gen)]

    def __len__(self) -> int:
        if self.epoch == "ids":
            return len(self.index_of) // self.p
        chunks = sum(max(1, -(-len(i) // self.k)) for i in self.index_of)
        return max(1, chunks // self.p)  # an estimate for progress bars; epoch() is exact

    def epoch_batches(self, gen: torch.Generator) -> list[torch.Tensor]:
        """One epoch: a list of int64 index tensors of length P * K."""
        if self.epoch == "ids":
            order = torch.randperm(len(self.index_of), generator=gen)
            n = len(order) // self.p
            return [torch.cat([self._k_images(self.index_of[int(i)], gen) for i in order[b * self.p:(b + 1) * self.p]])
                    for b in range(n)]
        chunks: list[list[torch.Tensor]] = []
        for idx in self.index_of:
            if len(idx) < self.k:
                chunks.append([idx[torch.randint(len(idx), (self.k,), generator=gen)]])
                continue
            perm = idx[torch.randperm(len(idx), generator=gen)]
            rest = len(perm) % self.k
            if rest:  # top up the last chunk from the identity's other images
                extra = perm[torch.randperm(len(perm) - rest, generator=gen)[: self.k - rest]]
                perm = torch.cat([perm, extra])
            chunks.append(list(perm.view(-1, self.k)))
        batches = []
        alive = [i for i, c in enumerate(chunks) if c]
        while len(alive) >= self.p:
            pick = torch.randperm(len(alive), generator=gen)[: self.p]
            chosen = [alive[int(j)] for j in pick]
            batches.append(torch.cat([chunks[i].pop() for i in chosen]))
            alive = [i for i in alive if chunks[i]]
        return batches


class RandomBatchSampler:
    """Plain shuffling in batches of ``batch_size`` with ``drop_last`` (PAL's GP/PCB recipe, pal.md §4.1)."""

    def __init__(self, n: int, batch_size: int):
        if n < batch_size:
            raise ValueError(f"batch size {batch_size} exceeds the {n} training images")
        self.n, self.batch_size = n, batch_size

    def __len__(self) -> int:
        return self.n // self.batch_size

    def epoch_batches(self, gen: torch.Generator) -> list[torch.Tensor]:
        perm = torch.randperm(self.n, generator=gen)
        return list(perm[: len(self) * self.batch_size].view(len(self), self.batch_size))
