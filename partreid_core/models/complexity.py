"""Model complexity: parameters, multiply-adds and test-feature size, ours next to the papers'.

What is counted (all on the **eval forward** of a batch of one image, where it matters):

* :func:`count_parameters` with ``inference_only=True``: the number of scalar entries of the
  unique parameter tensors the eval output depends on (found by autograd: a parameter counts
  iff it is in the graph of the output; frozen parameters are temporarily made trainable so
  e.g. BNNeck's fixed bias still counts). Each shared tensor counts once, ID classifiers
  and any other training-only head (center-loss centers, PAL's segmentation head, MPN's
  AT classifiers) are excluded because the eval forward does not use them. Buffers (BN
  running statistics, fixed centers) are never counted. ``inference_only=False`` counts every
  unique parameter of the model, classifiers included.
* :func:`count_flops`: **multiply-accumulates (MACs)**, the "Mult-Adds" the OSNet paper
  reports (978.9M for OSNet x1.0 at 256x128). It uses
  :class:`torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOPs per MAC of
  convolutions and matrix products (``mm``, ``addmm``, ``bmm``, attention) and nothing for
  bias adds, BN, activations or pooling; we divide by 2. Note that this includes batched
  matrix products such as PLR's SAM attention (~82.6M MACs at 256x128) that a
  module-hook counter does not see.
* :func:`torchreid_complexity`: torchreid's ``compute_model_complexity`` re-implemented
  (the counter behind the OSNet paper's "2.2M / 978.9M" and PLR-OSNet's "3.4M", spec
  ``plr_osnet.md`` §2.5): it sums the parameters of every *leaf* module *per call* (OSNet's
  shared gate counts four times per block, parameters held by non-leaf modules such as SAM's
  gamma are skipped) and the MACs of Conv/Linear modules, each output element costing
  ``k*k*c_in/groups`` plus one for a bias.

:func:`models_table` puts these next to the papers' claims (:data:`PAPER_COMPLEXITY`).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .registry import MODELS, build_model


@dataclass(frozen=True)
class PaperClaim:
    """A complexity number a paper (or its spec) states for a registered model.

    ``params``/``macs`` are absolute counts (3.4M -> 3.4e6) as printed, hence with the
    paper's rounding; ``None`` where the paper gives nothing.
    """

    artefact: str
    params: float | None = None
    macs: float | None = None
    feat_dim: int | None = None
    note: str = ""


#: Claims keyed by registry name. Parameter claims exclude classifiers in every source.
PAPER_COMPLEXITY: dict[str, PaperClaim] = {
    "osnet": PaperClaim(
        "PLR-M1", params=2.2e6, macs=978.9e6, feat_dim=512,
        note="OSNet x1.0, from the OSNet paper (Zhou et al. ICCV'19; listed in PLR-M1 for context, not in "
             "the PLR text); torchreid counter, Mult-Adds at 256x128"),
    "plr_osnet": PaperClaim(
        "PLR-M1", params=3.4e6, feat_dim=2560,
        note="PLR §IV-C 'only 3.4M parameters'; torchreid counter (shared OSNet gate counted per call); "
             "no FLOPs reported"),
    "pcb": PaperClaim("MPN-T8", params=26.8e6, note="PCB, ResNet-50, test #params, classifiers excluded"),
    "mgn": PaperClaim("MPN-T8", params=68.8e6, note="MGN, ResNet-50, test #params, classifiers excluded"),
    "mpn": PaperClaim(
        "MPN-T8", params=31.5e6, feat_dim=3072,
        note="MPN° (without CA), classifiers excluded; MPN with CA is ≈32.2M by the spec's count (mpn.md §2.7)"),
    "cgpn": PaperClaim("CGPN §2.5", feat_dim=3072, note="no size claim in the paper; 12 x 256-d test feature"),
    "rmgl": PaperClaim(
        "RMGL §2.8", feat_dim=3584,
        note="no size claim ('no extra model parameters' vs MGN); 14 x 256-d test feature"),
}


def _eval_input(model: nn.Module, input_size: tuple[int, int]) -> torch.Tensor:
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    return torch.randn(1, 3, *input_size, device=device)


def _unique_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.parameters())  # nn.Module.parameters() already de-duplicates shared tensors


def _eval_output(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{type(model).__name__}.forward in eval mode must return the (N, D) embedding tensor, "
                        f"got {type(out).__name__}")
    return out


def _measure(model: nn.Module, input_size: tuple[int, int], params: bool, flops: bool) -> dict[str, object]:
    """One eval forward (batch 1) under FlopCounterMode; autograd finds the parameters it used."""
    was_training = model.training
    plist = _unique_parameters(model)
    saved = [p.requires_grad for p in plist]
    result: dict[str, object] = {}
    try:
        model.eval()
        if params:
            for p in plist:
                p.requires_grad_(True)
        x = _eval_input(model, input_size)
        counter = FlopCounterMode(display=False) if flops else contextlib.nullcontext()
        with torch.set_grad_enabled(params), counter:
            out = _eval_output(model, x)
        result["feat_dim"] = int(out.shape[1])
        if flops:
            assert isinstance(counter, FlopCounterMode)
            result["macs"] = counter.get_total_flops() // 2
            result["macs_by_op"] = {str(op).split(".")[-1] if "." in str(op) else str(op): n // 2
                                    for op, n in counter.get_flop_counts().get("Global", {}).items()}
        if params:
            if plist and not out.requires_grad:
                raise RuntimeError(
                    f"{type(model).__name__}: the eval output is not connected to any parameter by autograd "
                    f"(torch.no_grad() or .detach() inside forward?), so the parameters it uses cannot be found")
            grads = torch.autograd.grad(out.float().sum(), plist, allow_unused=True) if plist else []
            result["params"] = sum(p.numel() for p, g in zip(plist, grads, strict=True) if g is not None)
    finally:
        for p, r in zip(plist, saved, strict=True):
            p.requires_grad_(r)
        model.train(was_training)
    return result


def count_parameters(model: nn.Module, inference_only: bool = True, input_size: tuple[int, int] = (256, 128)) -> int:
    """Number of parameters (scalars) of ``model``; see the module docstring for what is counted.

    Args:
        inference_only: count only the unique parameters the eval forward uses (classifiers
            and other training-only heads excluded); False counts every unique parameter.
        input_size: (H, W) of the probe image (parameters do not depend on it as long as
            the model accepts it).
    """
    if not inference_only:
        return sum(p.numel() for p in _unique_parameters(model))
    return int(_measure(model, input_size, params=True, flops=False)["params"])  # type: ignore[arg-type]


def count_flops(model: nn.Module, input_size: tuple[int, int] = (256, 128),
                by_op: bool = False) -> int | dict[str, int]:
    """Multiply-accumulates of one eval forward on a (1, 3, H, W) image (FlopCounterMode FLOPs / 2).

    ``by_op=True`` returns ``{aten op name: MACs}`` (e.g. ``convolution``, ``addmm``, ``bmm``).
    """
    with torch.no_grad():
        r = _measure(model, input_size, params=False, flops=True)
    return r["macs_by_op"] if by_op else r["macs"]  # type: ignore[return-value]


def torchreid_complexity(model: nn.Module, input_size: tuple[int, int] = (256, 128)) -> tuple[int, int]:
    """(params, MACs) exactly as torchreid's ``compute_model_complexity`` (``only_conv_linear=True``) reports them.

    Leaf modules only, counted once per call: a module called k times adds its parameters k
    times (OSNet's shared gate: 4x per OSBlock); parameters owned by non-leaf modules are
    missed. Conv MACs = ``(k*k*c_in + bias) * out.numel() / groups``; Linear MACs =
    ``(in_features + bias) * out.numel()``; everything else 0.
    """
    total = {"params": 0, "macs": 0}

    def hook(m: nn.Module, inp, out) -> None:
        total["params"] += sum(p.numel() for p in m.parameters())
        if isinstance(m, nn.modules.conv._ConvNd):
            k = 1
            for s in m.kernel_size:
                k *= s
            per = k * m.in_channels + (1 if m.bias is not None else 0)
            total["macs"] += int(per * out.numel() / m.groups)
        elif isinstance(m, nn.Linear):
            total["macs"] += (m.in_features + (1 if m.bias is not None else 0)) * out.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            _eval_output(model, _eval_input(model, input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total["params"], total["macs"]


def module_table(model: nn.Module, input_size: tuple[int, int] = (256, 128)) -> pd.DataFrame:
    """Per top-level child of ``model``: type, parameters, whether the eval forward uses them, output shape.

    The per-module breakdown behind a size claim (e.g. PLR-M1 against spec ``plr_osnet.md``
    §2.5). ``params`` counts the child's own unique parameters (a tensor shared with an
    earlier child is not counted again), ``params_at_test`` those of them the eval output
    depends on (autograd, as :func:`count_parameters`), ``output_shape`` the child's
    output in one eval forward of a (1, 3, H, W) image (blank if it did not run).
    Children without parameters that do not run at test (loss modules) are left out.
    """
    shapes: dict[str, str] = {}

    def hook_for(name: str):
        def hook(m, inp, out) -> None:
            if isinstance(out, torch.Tensor):
                shapes[name] = "x".join(str(d) for d in out.shape[1:])
        return hook

    children = list(model.named_children())
    handles = [m.register_forward_hook(hook_for(n)) for n, m in children]
    was_training = model.training
    plist = _unique_parameters(model)
    saved = [p.requires_grad for p in plist]
    try:
        model.eval()
        for p in plist:
            p.requires_grad_(True)
        out = _eval_output(model, _eval_input(model, input_size))
        grads = torch.autograd.grad(out.float().sum(), plist, allow_unused=True) if out.requires_grad else []
        used = {id(p) for p, g in zip(plist, grads, strict=True) if g is not None}
    finally:
        for h in handles:
            h.remove()
        for p, r in zip(plist, saved, strict=True):
            p.requires_grad_(r)
        model.train(was_training)
    seen: set[int] = set()
    rows = []
    for name, child in children:
        own = [p for p in child.parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        if not own and name not in shapes:
            continue  # parameter-free and unused at test (loss modules)
        rows.append({"module": name, "type": type(child).__name__, "params": sum(p.numel() for p in own),
                     "params_at_test": sum(p.numel() for p in own if id(p) in used),
                     "output_shape": shapes.get(name, "")})
    return pd.DataFrame(rows).set_index("module")


TABLE_COLUMNS = ["model", "params", "params_torchreid", "macs", "macs_torchreid", "feat_dim",
                 "paper_params", "paper_macs",
                 "paper_feat_dim", "paper_artefact", "paper_note", "error"]


def complexity_row(name: str, model: nn.Module, input_size: tuple[int, int] = (256, 128)) -> dict[str, object]:
    """One row of :func:`models_table` for an already built ``model`` registered as ``name``."""
    # two passes: FlopCounterMode is slow with autograd recording, the parameter pass needs autograd
    r = _measure(model, input_size, params=True, flops=False)
    with torch.no_grad():
        r.update(_measure(model, input_size, params=False, flops=True))
    tr_params, tr_macs = torchreid_complexity(model, input_size)
    claim = PAPER_COMPLEXITY.get(name)
    return {
        "model": name, "params": r["params"], "params_torchreid": tr_params, "macs": r["macs"],
        "macs_torchreid": tr_macs, "feat_dim": r["feat_dim"],
        "paper_params": claim.params if claim else None, "paper_macs": claim.macs if claim else None,
        "paper_feat_dim": claim.feat_dim if claim else None,
        "paper_artefact": claim.artefact if claim else "", "paper_note": claim.note if claim else "", "error": "",
    }


def models_table(names: list[str] | None = None, num_classes: int = 751, input_size: tuple[int, int] = (256, 128),
                 strict: bool = False) -> pd.DataFrame:
    """Complexity of registered models (default configs) with the papers' claims beside them.

    Columns: ``params`` (unique, eval graph), ``params_torchreid`` (torchreid's counter),
    ``macs`` (MACs at ``input_size``, FlopCounterMode / 2), ``macs_torchreid`` (torchreid's
    Conv/Linear-hook count, bias adds included, batched matmuls missed), ``feat_dim`` (test descriptor D),
    ``paper_params`` / ``paper_macs`` / ``paper_feat_dim`` / ``paper_artefact`` /
    ``paper_note`` from :data:`PAPER_COMPLEXITY` (blank where there is no claim) and
    ``error``. A model that fails to build or run gets its error message in ``error``
    (``strict=True`` raises instead), so one broken model does not hide the others.
    Counts are integers; :func:`format_table` renders them in M / G.
    """
    rows = []
    for name in names if names is not None else MODELS.names():
        try:
            model = build_model(name, num_classes)
            rows.append(complexity_row(name, model, input_size))
        except Exception as e:  # noqa: BLE001  (reported in the table)
            if strict:
                raise
            claim = PAPER_COMPLEXITY.get(name)
            rows.append({"model": name, "error": f"{type(e).__name__}: {e}",
                         "paper_params": claim.params if claim else None,
                         "paper_macs": claim.macs if claim else None,
                         "paper_feat_dim": claim.feat_dim if claim else None,
                         "paper_artefact": claim.artefact if claim else "",
                         "paper_note": claim.note if claim else ""})
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    for col in ("params", "params_torchreid", "macs", "macs_torchreid", "feat_dim", "paper_feat_dim"):
        df[col] = df[col].astype("Int64")
    return df.set_index("model")


def format_table(df: pd.DataFrame) -> pd.DataFrame:
    """Human-readable copy of :func:`models_table`: params in M, MACs in G, blanks for missing claims."""
    def fmt(v, scale: float, digits: int) -> str:
        return "" if v is None or pd.isna(v) else f"{v / scale:.{digits}f}"

    out = pd.DataFrame(index=df.index)
    out["params (M)"] = [fmt(v, 1e6, 3) for v in df["params"]]
    out["params, torchreid counter (M)"] = [fmt(v, 1e6, 3) for v in df["params_torchreid"]]
    out["paper params (M)"] = [fmt(v, 1e6, 1) for v in df["paper_params"]]
    out["MACs (G)"] = [fmt(v, 1e9, 3) for v in df["macs"]]
    out["MACs, torchreid counter (G)"] = [fmt(v, 1e9, 3) for v in df["macs_torchreid"]]
    out["paper MACs (G)"] = [fmt(v, 1e9, 4) for v in df["paper_macs"]]
    out["feat dim"] = ["" if pd.isna(v) else str(int(v)) for v in df["feat_dim"]]
    out["paper feat dim"] = ["" if pd.isna(v) else str(int(v)) for v in df["paper_feat_dim"]]
    out["source"] = df["paper_artefact"].fillna("")
    if df["error"].fillna("").astype(bool).any():
        out["error"] = df["error"].fillna("")
    return out


__all__ = ["PaperClaim", "PAPER_COMPLEXITY", "count_parameters", "count_flops", "torchreid_complexity", "module_table",
           "complexity_row", "models_table", "format_table"]
