"""SynthReID: determinism, mask/keypoint consistency, split rules, knob monotonicity, registry, cache, export."""
import hashlib
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image

from partreid_core.cli import main
from partreid_core.data import DATASETS, PART_CLASSES, build_dataset
from partreid_core.data.synth import KEYPOINT_PARTS, META_KEYS, SynthReID, build_synth, render_batch
from partreid_core.data.synth.scene import GENERATOR_VERSION

SIZE = (64, 32)


@pytest.fixture(scope="module")
def tiny():
    return build_synth("synth-tiny", seed=0, cache=False)


def test_presets_registered():
    assert {"synth-tiny", "synth-s", "synth-m"} <= set(DATASETS.names("synth-*"))


def test_same_seed_same_bytes_and_batch_independence(tiny):
    idx = list(range(12))
    a = tiny.render("train", idx, SIZE)
    b = build_synth("synth-tiny", seed=0, cache=False).render("train", idx, SIZE)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks) and torch.equal(a.keypoints, b.keypoints)
    # image k alone equals image k inside a batch (with different neighbours)
    for k in (0, 7, 11):
        alone = tiny.render("train", [k], SIZE)
        assert torch.equal(alone.images[0], a.images[k]) and torch.equal(alone.masks[0], a.masks[k])
        assert torch.equal(alone.keypoints[0], a.keypoints[k])
    threads = torch.get_num_threads()
    try:   # the intra-op thread count never changes pixels (render() itself uses one thread)
        torch.set_num_threads(2)
        two = render_batch(tiny.scenes("train", idx), SIZE, "A")
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(two["images"], a.images) and torch.equal(two["masks"], a.masks)
    other = build_synth("synth-tiny", seed=1, cache=False).render("train", idx, SIZE)
    assert not torch.equal(other.images, a.images)


@pytest.mark.heavy
def test_parallel_generation_equals_serial(tmp_path):
    ds = build_synth("synth-tiny", cache_dir=tmp_path, workers=2)
    par = ds.load_split("train", SIZE)          # two spawned worker processes
    ser = build_synth("synth-tiny", cache=False).render("train", None, SIZE)
    assert torch.equal(par.images, ser.images) and torch.equal(par.masks, ser.masks)
    assert all(torch.equal(par.meta[k], ser.meta[k]) for k in META_KEYS)


def test_golden_checksum(tiny):
    """Byte-identical on any machine: a fixed image's hash. Changing the renderer must bump GENERATOR_VERSION
    (and this hash) so caches keyed by the version are invalidated."""
    st = tiny.render("gallery", [0, 5], SIZE)
    digest = hashlib.sha1(st.images.numpy().tobytes() + st.masks.numpy().tobytes()).hexdigest()
    assert GENERATOR_VERSION == "synthreid-1"
    assert digest == GOLDEN, digest


GOLDEN = "5ed7aa9200f4f84f422ee088a8644a5624dbaa6e"


def _split_digest(ds, split):
    """sha1 of a split's manifest, images, masks, keypoints and knob values, in manifest order."""
    st = ds.render(split, None, SIZE)
    h = hashlib.sha1(np.ascontiguousarray(ds.keys(split)).tobytes())
    for t in (st.images, st.masks, st.keypoints, *(st.meta[k] for k in sorted(st.meta))):
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def test_existing_splits_unchanged_by_the_validation_split(tiny):
    """Every byte of train / query / gallery (and their cache keys, so cached files stay valid) as before the
    validation split existed; asking for the validation split first changes none of them."""
    ds = build_synth("synth-tiny", seed=0, cache=False)
    ds.keys("val_query")
    for split, (digest, key) in SPLIT_GOLDEN.items():
        assert ds.cache_key(split, SIZE) == key, split
        assert _split_digest(ds, split) == digest, split
    assert all(np.array_equal(ds.keys(s), tiny.keys(s)) for s in SPLIT_GOLDEN)


#: computed with the generator before the validation split was added (synth-tiny, seed 0, 64x32)
SPLIT_GOLDEN = {"train": ("6d27912abe20588478f3e9c4a098e9651f23a0f4", "74801e134d324ecf"),
                "query": ("d2b485f77e11a7eca2f48705b790c279385e47ff", "b80ed39f6e8d7a42"),
                "gallery": ("22d20adb69295593b730fc19a2e5bedea6c3ce26", "60e9372b63c3f378")}


def test_front_views_show_every_part_and_keypoints_sit_on_their_part():
    ds = build_synth("synth-tiny", seed=0, cache=False, misalignment=0.0, occlusion=0.0, truncation=0.0)
    st = ds.render("train", None, (128, 64))
    front = (st.meta["viewpoint"] == 0).nonzero().flatten()
    assert len(front) >= 5
    for i in front.tolist():
        present = set(st.masks[i].unique().tolist())
        assert present == set(range(len(PART_CLASSES))), (i, present)
        assert st.keypoints[i, 5:, 2].sum() >= 10   # body keypoints of an unoccluded front view are visible
    _check_keypoints_on_parts(st)


def _check_keypoints_on_parts(st):
    H, W = st.size
    kp = st.keypoints
    vis = kp[..., 2] > 0
    assert vis.any()
    n, k = vis.nonzero(as_tuple=True)
    x, y = kp[n, k, 0].floor().long(), kp[n, k, 1].floor().long()
    assert ((x >= 0) & (x < W) & (y >= 0) & (y < H)).all()
    labels = st.masks[n, y, x]
    for lab, kk in zip(labels.tolist(), k.tolist(), strict=True):
        assert lab in KEYPOINT_PARTS[kk], (kk, lab)


def test_keypoints_consistent_under_occlusion_and_misalignment():
    ds = build_synth("synth-tiny", seed=3, cache=False, misalignment=1.0, occlusion=1.0, truncation=0.5)
    st = ds.render("gallery", None, SIZE)
    _check_keypoints_on_parts(st)
    assert (st.keypoints[..., 2] == 0).any()
    assert (st.meta["truncated"] > 0).any() and (st.meta["n_occluders"] > 0).all()


def test_split_rules(tiny):
    tr, q, g = (tiny.keys(s) for s in ("train", "query", "gallery"))
    assert tr[:, 0].min() >= 1 and q[:, 0].min() >= 1
    assert not set(tr[:, 0]) & set(q[:, 0]) and not set(tr[:, 0]) & set(g[:, 0])
    pairs = [tuple(r) for r in q[:, :2].tolist()]
    assert len(pairs) == len(set(pairs))                       # one query per (pid, camera)
    assert set(g[g[:, 0] > 0, 0]) == set(q[:, 0])
    assert (g[:, 0] == 0).sum() == tiny.preset.distractors    # distractors only in the gallery
    for pid, cam in pairs:                                     # every query has a cross-camera match
        assert ((g[:, 0] == pid) & (g[:, 1] != cam)).any()
        assert ((g[:, 0] == pid) & (g[:, 1] == cam)).any()     # and a junk image (same pid + camera)
    # an image is addressed by (pid, camid, frame): unique per split
    for keys in (tr, q, g):
        k = [tuple(r) for r in keys[:, :3].tolist()]
        assert len(k) == len(set(k))


def _fg_iou(a, b):
    a, b = a > 0, b > 0
    return ((a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp(min=1)).float()


def test_misalignment_moves_the_person_monotonically():
    idx = list(range(24))
    renders = [build_synth("synth-tiny", cache=False, misalignment=m, occlusion=0.0, truncation=0.0)
               .render("train", idx, SIZE) for m in (0.0, 0.3, 0.6, 1.0)]
    ious = [_fg_iou(r.masks, renders[0].masks).mean().item() for r in renders]
    assert ious[0] == 1.0 and ious[0] > ious[1] > ious[2] > ious[3], ious
    shifts = [r.meta["shift_y"].abs().mean().item() for r in renders]
    assert shifts[0] < 1e-3 and shifts[0] < shifts[1] < shifts[2] < shifts[3]


def test_occlusion_hides_the_body_monotonically():
    idx = list(range(30))
    renders = [build_synth("synth-tiny", cache=False, misalignment=0.0, occlusion=o, truncation=0.0)
               .render("train", idx, SIZE) for o in (0.0, 0.3, 0.6, 1.0)]
    fg = [r.meta["fg_frac"].mean().item() for r in renders]
    occ = [r.meta["occluded_frac"].mean().item() for r in renders]
    assert occ[0] == 0.0 and occ[0] < occ[1] < occ[2] < occ[3], occ
    assert fg[0] > fg[1] > fg[2] > fg[3], fg
    # occluders are background in the mask: the visible body is a subset of the unoccluded body
    assert not ((renders[3].masks > 0) & (renders[0].masks == 0)).any()


def test_truncation_cuts_parts_and_domain_changes_style():
    idx = list(range(16))
    knobs = {"cache": False, "misalignment": 0.0, "occlusion": 0.0}
    full = build_synth("synth-tiny", truncation=0.0, **knobs).render("train", idx, SIZE)
    cut = build_synth("synth-tiny", truncation=1.0, **knobs).render("train", idx, SIZE)
    assert (cut.meta["truncated"] > 0).all() and (cut.meta["cut_frac"] >= 0.2).all()
    heads = lambda st: (st.masks == 1).flatten(1).any(1)  # noqa: E731
    feet = lambda st: (st.masks == 7).flatten(1).any(1)  # noqa: E731
    assert (~heads(cut) | ~feet(cut)).all() and (heads(full) & feet(full)).all()
    b = build_synth("synth-tiny", cache=False, domain="B").render("train", idx, SIZE)
    a = build_synth("synth-tiny", cache=False, domain="A").render("train", idx, SIZE)
    assert torch.equal(a.pids, b.pids) and not torch.equal(a.images, b.images)
    assert b.meta["camera_height"].mean() > a.meta["camera_height"].mean()


def test_registry_round_trip_and_cache_hit(tmp_path, monkeypatch):
    ds = build_dataset("synth-tiny", cache_dir=tmp_path)
    st = ds.load_split("query", SIZE)
    m = ds.manifest("query")
    assert st.images.shape == (len(m), 3, *SIZE) and st.images.dtype == torch.uint8
    assert st.masks.shape == (len(m), *SIZE) and int(st.masks.max()) < len(PART_CLASSES)
    assert st.pids.tolist() == [s.pid for s in m] and st.camids.tolist() == [s.camid for s in m]
    assert set(META_KEYS) <= set(st.meta) and all(v.shape == (len(m),) for v in st.meta.values())
    files = list(tmp_path.glob("synth-tiny-query-64x32-*.pt"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(SynthReID, "render", lambda *a, **k: pytest.fail("cache miss"))
    again = build_dataset("synth-tiny", cache_dir=tmp_path).load_split("query", SIZE)
    assert torch.equal(again.images, st.images) and torch.equal(again.meta["fg_frac"], st.meta["fg_frac"])
    # knobs, seed and size are part of the key
    assert ds.cache_path("query", SIZE) != build_synth("synth-tiny", occlusion=0.5).cache_path("query", SIZE)
    assert ds.cache_path("query", SIZE) != build_synth("synth-tiny", seed=1).cache_path("query", SIZE)


def test_bad_knobs_are_named():
    with pytest.raises(TypeError, match="unknown SynthReID knob.*'occlusoin'"):
        build_dataset("synth-tiny", occlusoin=0.3)
    with pytest.raises(ValueError, match="'occlusion' must be a number in \\[0, 1\\]"):
        build_dataset("synth-tiny", occlusion=1.5)
    with pytest.raises(ValueError, match="domain"):
        build_dataset("synth-tiny", domain="C")
    with pytest.raises(ValueError, match="unknown split"):
        build_dataset("synth-tiny").load_split("val", SIZE)


def test_export_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "SynthReID-tiny"
    assert main(["synth", "export", "synth-tiny", str(out), "--size", "64", "32"]) == 0
    ds = build_synth("synth-tiny")
    pat = re.compile(r"^(\d{4})_c(\d)s1_(\d{6})_00\.jpg$")
    for split, folder in (("train", "bounding_box_train"), ("query", "query"), ("gallery", "bounding_box_test")):
        names = sorted(p.name for p in (out / folder).iterdir())
        assert len(names) == len(ds.keys(split))
        parsed = [pat.match(n) for n in names]
        assert all(parsed)
        assert sorted(int(p.group(1)) for p in parsed) == sorted(ds.keys(split)[:, 0].tolist())
        png = tmp_path / "SynthReID-tiny_ps_label" / folder / names[0].replace(".jpg", ".png")
        lab = np.array(Image.open(png))
        assert lab.shape == SIZE and lab.max() < len(PART_CLASSES)
        assert Image.open(out / folder / names[0]).size == (SIZE[1], SIZE[0])
    with open(out / "keypoints.pkl", "rb") as f:
        kp = pickle.load(f)["keypoints"]
    assert len(kp) == sum(len(ds.keys(s)) for s in ("train", "query", "gallery"))
    assert next(iter(kp.values())).shape == (17, 3)
    assert list((tmp_path / "cache" / "synth").glob("synth-tiny-train-64x32-*.pt"))   # cached via $PARTREID_CACHE


def test_cli_stats(capsys):
    assert main(["data", "stats", "synth-tiny"]) == 0
    out = capsys.readouterr().out
    assert "distractors" in out and re.search(r"train\s+16\s+\d+\s+3", out)
