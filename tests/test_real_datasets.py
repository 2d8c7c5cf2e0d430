"""Real dataset loaders on tiny fixture trees of each layout (torchreid / fast-reid / PLR-OSNet / EANet)."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from partreid_core.data import DATASETS, build_dataset, relabel
from partreid_core.data import images as images_mod
from partreid_core.data.images import CorruptImageError, DataWarning
from partreid_core.data.paths import DatasetNotFoundError
from partreid_core.data.real import DatasetLayoutError

from real_fixtures import (
    CUHK03_NP,
    DISK_HW,
    DUKE,
    MARKET,
    colour_of,
    make_cuhk03_release,
    make_market_like,
    make_msmt17,
    write_image,
)

SIZE = (16, 8)

# DataWarnings are asserted where they matter (with their own recorder); elsewhere they are expected noise.
pytestmark = pytest.mark.filterwarnings("ignore::partreid_core.data.images.DataWarning")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PARTREID_DATA", raising=False)


@pytest.fixture
def market_root(tmp_path):
    root = tmp_path / "data"
    make_market_like(root / "market1501" / "Market-1501-v15.09.15", MARKET,
                     extra={"bounding_box_test": ["Thumbs.db"]})
    return root


def build(name, root, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = build_dataset(name, root=str(root), verbose=False, **kw)
    return ds, [str(x.message) for x in w if issubclass(x.category, DataWarning)]


def test_registry_names():
    for name in ("market1501", "dukemtmcreid", "cuhk03-labeled", "cuhk03-detected", "msmt17"):
        assert name in DATASETS


def test_market_manifest_junk_distractors_and_skipped_files(market_root):
    ds, warns = build("market1501", market_root)
    train, query, gallery = (ds.manifest(s) for s in ("train", "query", "gallery"))
    assert [(s.pid, s.camid) for s in train] == [(2, 0), (2, 1), (7, 2), (7, 5), (9, 4)]
    assert [s.index for s in train] == list(range(5))
    assert [(s.pid, s.camid) for s in query] == [(10, 0), (11, 1)]
    # sorted names: 0000 (distractor) first; the -1 junk image is dropped
    assert [(s.pid, s.camid) for s in gallery] == [(0, 0), (10, 3), (11, 4)]
    assert ds.dropped["gallery"] == 1
    assert any("skipped non-image entries" in w and ": 1 (e.g." in w and "Thumbs.db" in w for w in warns)
    stats = ds.statistics()
    assert stats.loc["train", "identities"] == 3 and stats.loc["train", "images"] == 5
    assert stats.loc["gallery", "identities"] == 2 and stats.loc["gallery", "distractors (pid 0)"] == 1
    assert stats.loc["train", "cameras"] == 5
    labels, c = relabel(torch.tensor([s.pid for s in train]))
    assert c == 3 and labels.tolist() == [0, 0, 1, 1, 2]
    assert "market1501" in ds.summary() and "junk" in ds.summary()


def test_market_keep_junk_fastreid_nesting_and_env_root(tmp_path, monkeypatch):
    root = tmp_path / "d"
    make_market_like(root / "Market-1501-v15.09.15", MARKET)
    monkeypatch.setenv("PARTREID_DATA", str(root))
    ds = DATASETS.build("market1501", keep_junk=True, verbose=False)
    assert ds.image_root == root / "Market-1501-v15.09.15"
    assert [s.pid for s in ds.manifest("gallery")] == [-1, 0, 10, 11]
    assert ds.statistics().loc["gallery", "junk (pid -1)"] == 1


def test_missing_root_and_dataset_errors_name_folders(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="PARTREID_DATA is unset") as e:
        build_dataset("market1501")
    assert "$PARTREID_DATA/market1501/Market-1501-v15.09.15\n  $PARTREID_DATA/Market-1501-v15.09.15" in str(e.value)
    with pytest.raises(DatasetNotFoundError, match=r"\$PARTREID_DATA/cuhk03/\{cuhk03_release/cuhk-03.mat, "
                                                   r"cuhk03_new_protocol_config_labeled.mat\}"):
        build_dataset("cuhk03-labeled")
    (tmp_path / "market1501" / "Market-1501-v15.09.15" / "query").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError) as e:
        build_dataset("market1501", root=str(tmp_path))
    msg = str(e.value)
    assert str(tmp_path / "market1501" / "Market-1501-v15.09.15") in msg and "lacks bounding_box_train" in msg
    assert str(tmp_path / "Market-1501-v15.09.15") + "  (absent)" in msg
    with pytest.raises(DatasetNotFoundError) as e:
        build_dataset("dukemtmcreid", root=str(tmp_path))
    assert str(tmp_path / "dukemtmc-reid" / "DukeMTMC-reID") in str(e.value)


def test_bad_names_and_cameras_are_errors(tmp_path):
    d = make_market_like(tmp_path / "Market-1501-v15.09.15", MARKET)
    write_image(d / "query" / "img_0001.jpg")
    with pytest.raises(DatasetLayoutError, match=r"unexpected file name .*img_0001\.jpg.*0002_c1s1_000451_03"):
        build_dataset("market1501", root=str(tmp_path), verbose=False)
    (d / "query" / "img_0001.jpg").unlink()
    write_image(d / "query" / "0012_c7s1_000101_00.jpg")
    with pytest.raises(DatasetLayoutError, match=r"camera c7 of .*0012_c7s1_000101_00\.jpg is out of range 1\.\.6"):
        build_dataset("market1501", root=str(tmp_path), verbose=False)


def test_duke_eight_cameras(tmp_path):
    make_market_like(tmp_path / "dukemtmc-reid" / "DukeMTMC-reID", DUKE)
    ds, _ = build("dukemtmcreid", tmp_path)
    assert [(s.pid, s.camid) for s in ds.manifest("train")] == [(5, 1), (5, 4), (8, 7)]
    write_image(tmp_path / "dukemtmc-reid" / "DukeMTMC-reID" / "query" / "0014_c9_f0000001.jpg")
    with pytest.raises(DatasetLayoutError, match="out of range 1..8"):
        build("dukemtmcreid", tmp_path)


def test_load_split_bilinear_cache_and_order(market_root, monkeypatch):
    ds, _ = build("market1501", market_root)
    out = ds.load_split("train", SIZE, num_workers=2)
    assert out.images.dtype == torch.uint8 and out.images.shape == (5, 3, *SIZE)
    assert out.masks is None and out.keypoints is None
    assert out.pids.tolist() == [2, 2, 7, 7, 9] and out.camids.tolist() == [0, 1, 2, 5, 4]
    for i, s in enumerate(ds.manifest("train")):  # decode = PIL bilinear of the file, in manifest order
        ref = np.array(Image.open(s.path).convert("RGB").resize((SIZE[1], SIZE[0]), Image.BILINEAR))
        assert torch.equal(out.images[i], torch.from_numpy(ref).permute(2, 0, 1))
    # the second load comes from the disk cache: decoding again would fail
    monkeypatch.setattr(images_mod, "decode_image", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    again = ds.load_split("train", SIZE)
    assert torch.equal(again.images, out.images)
    with pytest.raises(AssertionError, match="decoded"):  # a new size is a new cache entry
        ds.load_split("train", (8, 4))


def test_corrupt_image_names_file(market_root):
    bad = market_root / "market1501" / "Market-1501-v15.09.15" / "query" / "0011_c2s1_000301_00.jpg"
    bad.write_bytes(b"\xff\xd8\xff truncated")
    ds, _ = build("market1501", market_root)
    with pytest.raises(CorruptImageError, match="0011_c2s1_000301_00.jpg"):
        ds.load_split("query", SIZE, cache=False)


def _add_side_labels(market_root):
    """Part labels for 3 of 4 train images (the 4th is missing) and keypoints for 2 of them."""
    img_root = market_root / "market1501" / "Market-1501-v15.09.15"
    ps_root = market_root / "market1501" / "Market-1501-v15.09.15_ps_label"
    names = MARKET["bounding_box_train"]
    for k, name in enumerate(names[:3]):
        lab = np.zeros(DISK_HW, dtype=np.uint8)
        lab[: DISK_HW[0] // 2] = k + 1  # top half = class k+1, bottom = background
        (ps_root / "bounding_box_train").mkdir(parents=True, exist_ok=True)
        Image.fromarray(lab).save(ps_root / "bounding_box_train" / name.replace(".jpg", ".png"))
    kpt = np.zeros((17, 3))
    kpt[0] = [8.0, 4.0, 0.9]   # nose at (x=8, y=4) of the 32x16 original, visible
    kpt[1] = [2.0, 30.0, 0.05]  # below EANet's 0.1 score threshold -> invisible
    table = {f"Market-1501-v15.09.15/bounding_box_train/{names[0]}": kpt,
             f"Market-1501-v15.09.15/bounding_box_train/{names[1]}": {"kpt": kpt, "im_h_w": (64, 32)}}
    with open(img_root.parent / "im_path_to_kpt.pkl", "wb") as f:
        pickle.dump(table, f)
    return names


def test_side_labels_matched_resized_and_missing_reported(market_root):
    names = _add_side_labels(market_root)
    ds, _ = build("market1501", market_root)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = ds.load_split("train", SIZE)
    msgs = [str(x.message) for x in w]
    assert out.meta["has_mask"].tolist() == [True, True, True, False, False]
    assert out.masks.shape == (5, *SIZE) and out.masks.dtype == torch.uint8
    for k in range(3):  # nearest-neighbour resize keeps the exact class ids and the half split
        assert set(out.masks[k, : SIZE[0] // 2].unique().tolist()) == {k + 1}
        assert set(out.masks[k, SIZE[0] // 2:].unique().tolist()) == {0}
    assert (out.masks[3:] == 255).all()
    assert any("without a part-label PNG" in m and ": 2 (e.g." in m and names[3].replace(".jpg", ".png") in m
               for m in msgs)
    assert out.meta["has_keypoints"].tolist() == [True, True, False, False, False]
    # image 0: 32x16 on disk -> 16x8, scale 0.5; image 1: EANet im_h_w (64, 32) -> scale 0.25
    assert out.keypoints[0, 0].tolist() == [4.0, 2.0, 1.0] and out.keypoints[0, 1, 2] == 0
    assert out.keypoints[1, 0].tolist() == [2.0, 1.0, 1.0]
    assert (out.keypoints[2:] == 0).all()
    assert any("without keypoints" in m and ": 3 (e.g." in m for m in msgs)
    # part masks come from the cache on a second load too
    assert torch.equal(ds.load_split("train", SIZE).masks, out.masks)


def test_side_labels_disabled_explicit_missing_and_bad_values(market_root):
    _add_side_labels(market_root)
    ds, _ = build("market1501", market_root, part_labels=None, keypoints=None)
    out = ds.load_split("train", SIZE)
    assert out.masks is None and out.keypoints is None and out.meta == {}
    with pytest.raises(FileNotFoundError, match="part-label folder .*nowhere"):
        build("market1501", market_root, part_labels=str(market_root / "nowhere"))
    lab_path = (market_root / "market1501" / "Market-1501-v15.09.15_ps_label" / "bounding_box_train"
                / MARKET["bounding_box_train"][0].replace(".jpg", ".png"))
    Image.fromarray(np.full(DISK_HW, 9, dtype=np.uint8)).save(lab_path)
    ds, _ = build("market1501", market_root)
    with pytest.raises(CorruptImageError, match=r"value 9; expected class ids 0\.\.7"):
        ds.load_split("train", SIZE, cache=False)


@pytest.mark.parametrize("subset", ["labeled", "detected"])
def test_cuhk03_market_layout(tmp_path, subset):
    make_market_like(tmp_path / "cuhk03" / f"CUHK03_{subset}", CUHK03_NP)
    ds, _ = build(f"cuhk03-{subset}", tmp_path)
    assert ds.name == f"cuhk03-{subset}"
    assert [(s.pid, s.camid) for s in ds.manifest("train")] == [(1, 0), (1, 1), (3, 0)]
    assert [(s.pid, s.camid) for s in ds.manifest("gallery")] == [(701, 1), (702, 1)]
    assert ds.load_split("query", SIZE).images.shape == (1, 3, *SIZE)


def test_cuhk03_from_release_mat(tmp_path):
    expected = make_cuhk03_release(tmp_path / "cuhk03", "detected")
    ds, _ = build("cuhk03-detected", tmp_path)
    assert ds.image_root == tmp_path / "cuhk03" / "images_detected"  # torchreid's extraction folder
    for split in ("train", "query", "gallery"):
        assert [s.path.rsplit("/", 1)[1] for s in ds.manifest(split)] == expected[split]
    assert [s.pid for s in ds.manifest("train")] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert [s.camid for s in ds.manifest("train")] == [0, 0, 1, 1] * 2  # view from the name's 3rd field
    assert [(s.pid, s.camid) for s in ds.manifest("query")] == [(3, 0), (3, 0)]
    assert [(s.pid, s.camid) for s in ds.manifest("gallery")] == [(3, 1), (3, 1)]
    # the extracted PNGs hold the arrays of the .mat
    q = ds.load_split("query", DISK_HW)
    ref = expected["images"][expected["query"][0]]
    assert torch.equal(q.images[0], torch.from_numpy(ref).permute(2, 0, 1))
    with pytest.raises(DatasetNotFoundError, match="or the original release"):
        build("cuhk03-labeled", tmp_path)  # only the detected config exists


def test_cuhk03_v73_needs_h5py(tmp_path):
    pytest.importorskip("scipy")
    try:
        import h5py  # noqa: F401
        pytest.skip("h5py is installed")
    except ImportError:
        pass
    make_cuhk03_release(tmp_path / "cuhk03", "labeled")
    mat = tmp_path / "cuhk03" / "cuhk03_release" / "cuhk-03.mat"
    mat.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ImportError, match="pip install h5py"):
        build("cuhk03-labeled", tmp_path)


@pytest.mark.parametrize("version,nesting", [("V1", "msmt17/"), ("V2", "")])
def test_msmt17_lists(tmp_path, version, nesting):
    make_msmt17(tmp_path / f"{nesting}MSMT17_{version}", version)
    ds, _ = build("msmt17", tmp_path)
    train = ds.manifest("train")  # list_train + list_val, labels shifted by +1, camera from the name
    assert [(s.pid, s.camid) for s in train] == [(1, 0), (1, 4), (2, 14)]
    assert train[2].path.endswith(f"{'train' if version == 'V1' else 'mask_train_v2'}/0001/"
                                  "0001_000_15_0303noon_0007_0.jpg")
    assert [(s.pid, s.camid) for s in ds.manifest("gallery")] == [(1, 6), (2, 1)]
    assert ds.statistics().loc["query", "identities"] == 1
    assert ds.load_split("gallery", SIZE).images.shape == (2, 3, *SIZE)


def test_msmt17_bad_line_and_missing_image(tmp_path):
    d = make_msmt17(tmp_path / "MSMT17_V1")
    (d / "list_val.txt").rename(d / "list_val.bak")
    with pytest.raises(DatasetNotFoundError, match=r"MSMT17_V1  \(lacks list_val.txt\)"):
        build("msmt17", tmp_path)
    (d / "list_val.bak").rename(d / "list_val.txt")
    (d / "list_query.txt").write_text("0000/0000_000_03_0303afternoon_0001_0.jpg\n")
    with pytest.raises(DatasetLayoutError, match=r"list_query\.txt:1: unexpected line"):
        build("msmt17", tmp_path)
    (d / "list_query.txt").write_text("0000/0000_000_03_0303afternoon_0002_0.jpg 0\n")
    with pytest.raises(DatasetLayoutError, match=r"1 images listed in .*list_query\.txt are missing"):
        build("msmt17", tmp_path)
    (d / "list_query.txt").write_text("0000/0000_000_16_0303afternoon_0001_0.jpg 0\n")
    with pytest.raises(DatasetLayoutError, match="camera 16 .* out of range 1..15"):
        build("msmt17", tmp_path)


def test_fixture_colours_survive_decode(market_root):
    ds, _ = build("market1501", market_root)
    out = ds.load_split("query", DISK_HW)  # no resize: the flat colour of each file, up to JPEG error
    for i, s in enumerate(ds.manifest("query")):
        expect = torch.tensor(colour_of(s.path), dtype=torch.float32)
        assert (out.images[i].float().mean(dim=(1, 2)) - expect).abs().max() < 3


def test_builder_prints_statistics_table(market_root, capsys):
    build_dataset("market1501", root=str(market_root))
    out = capsys.readouterr().out
    assert "market1501 at" in out and "identities" in out and "gallery" in out
    assert "dropped from gallery: 1 junk images" in out


def test_cuhk03_np_nested_part_labels(tmp_path):
    make_market_like(tmp_path / "cuhk03-np" / "detected", CUHK03_NP)
    lab = tmp_path / "cuhk03-np_ps_label" / "detected" / "query" / "0701_c1_1.png"
    lab.parent.mkdir(parents=True)
    Image.fromarray(np.full(DISK_HW, 2, dtype=np.uint8)).save(lab)
    ds, _ = build("cuhk03-detected", tmp_path)
    assert ds.ps_label_dir == tmp_path / "cuhk03-np_ps_label" / "detected"
    out = ds.load_split("query", SIZE)
    assert out.meta["has_mask"].tolist() == [True] and (out.masks == 2).all()


def test_release_mat_hdf5_indexing(tmp_path, monkeypatch):
    """The v7.3 branch with a stand-in for h5py: MATLAB stores arrays transposed in HDF5, so a pair's
    (pids, 10) cell is a (10, pids) dataset of references and an (H, W, 3) image is (3, W, H)."""
    import sys
    import types

    from partreid_core.data.real.cuhk03 import ReleaseMat

    img = np.arange(4 * 2 * 3, dtype=np.uint8).reshape(4, 2, 3)
    store = {"detected": np.array([["cam0", "cam1"]], dtype=object),
             "cam1": np.array([["empty", "x"]] * 10, dtype=object), "empty": np.zeros(2, dtype=np.uint64),
             "x": np.zeros(1)}
    store["cam1"][6, 0] = "img"  # pair 2, pid 1, slot 7
    store["img"] = img.T
    fake = types.ModuleType("h5py")
    fake.File = lambda path, mode: store  # dict lookup stands in for dereferencing
    monkeypatch.setitem(sys.modules, "h5py", fake)
    path = tmp_path / "cuhk-03.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n")
    mat = ReleaseMat(path)
    assert np.array_equal(mat.image("detected", 1, 0, 6), img)
    assert mat.image("detected", 1, 0, 0) is None  # an empty MATLAB cell


def test_eanet_cuhk03_layout_side_labels(tmp_path):
    """PAL/EANet's CUHK03: cuhk03_np_detected_jpg/cuhk03-np-jpg/detected/, labels in cuhk03-np-jpg_ps_label/,
    keypoints keyed 'cuhk03-np-jpg/detected/...' in the per-dataset folder two levels up."""
    base = tmp_path / "cuhk03_np_detected_jpg"
    files = {k: [n.replace(".png", ".jpg") for n in v] for k, v in CUHK03_NP.items()}
    make_market_like(base / "cuhk03-np-jpg" / "detected", files)
    lab = base / "cuhk03-np-jpg_ps_label" / "detected" / "query" / "0701_c1_1.png"
    lab.parent.mkdir(parents=True)
    Image.fromarray(np.full(DISK_HW, 7, dtype=np.uint8)).save(lab)
    kpt = np.zeros((17, 3))
    kpt[16] = [16.0, 32.0, 1.0]  # right ankle at the bottom-right corner of the 32x16 original
    with open(base / "im_path_to_kpt.pkl", "wb") as f:
        pickle.dump({"cuhk03-np-jpg/detected/query/0701_c1_1.jpg": kpt}, f)
    ds, _ = build("cuhk03-detected", tmp_path)
    out = ds.load_split("query", SIZE)
    assert (out.masks == 7).all() and out.meta["has_mask"].all()
    assert out.keypoints[0, 16].tolist() == [8.0, 16.0, 1.0] and out.meta["has_keypoints"].all()
