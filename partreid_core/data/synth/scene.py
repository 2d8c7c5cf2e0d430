"""SynthReID scene sampling: identities, cameras and per-image parameters (CPU, numpy scalars).

Everything here is size independent: a scene lives in *world units* (a standing person is 1.0 tall,
head top at y=0, soles at y=1, x=0 on the body axis) and in *box units* (the detection box is
[0, 1] x [0, 1]). :mod:`.raster` turns a batch of scenes into pixels at any (H, W).

Determinism. Every random number is drawn from ``numpy.random.Generator(PCG64(SeedSequence(key)))``
with ``key`` built from integers only: an identity depends on (seed, pid), a camera on
(seed, domain, camid), an image on (seed, pid, camid, index). Derived floats are quantised to a
2^-12 grid (:func:`q`) so they are exact float32 numbers, and the rasteriser only uses IEEE-exact
elementwise float32 ops (+ - * /, comparisons, floor, gathers); hence the same bytes on any machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Bump when the renderer changes output; part of every cache key.
GENERATOR_VERSION = "synthreid-1"

VIEWPOINTS: tuple[str, ...] = ("front", "back", "left", "right")
DOMAINS: tuple[str, ...] = ("A", "B")

# Colours are uint8 RGB. Garment colours are shared by all garments (and by the background clutter),
# so no single garment identifies a person.
GARMENT = np.array([
    (25, 25, 28), (235, 235, 230), (128, 128, 128), (30, 40, 100), (190, 30, 35), (40, 120, 50),
    (225, 200, 40), (110, 170, 220), (110, 70, 40), (225, 140, 170), (230, 120, 30), (90, 50, 130),
], dtype=np.float64)
SKIN = np.array([(250, 220, 195), (235, 190, 150), (200, 150, 110), (150, 100, 70), (95, 60, 40)], dtype=np.float64)
HAIR = np.array([(20, 15, 10), (70, 45, 25), (140, 95, 50), (210, 180, 110), (150, 150, 150), (150, 50, 25)],
                dtype=np.float64)
SHOES = np.array([(20, 20, 20), (240, 240, 240), (100, 60, 30), (60, 60, 70), (160, 30, 30)], dtype=np.float64)
EMBLEM = np.array([(255, 0, 0), (0, 200, 0), (0, 80, 255), (255, 230, 0), (255, 255, 255), (0, 0, 0)],
                  dtype=np.float64)

# stream ids mixed into seed keys so identity / camera / image streams never coincide
_ID, _CAM, _IMG, _SPLIT, _BANK = 11, 23, 37, 41, 53
_VAL = 59   # the validation split's manifest (a stream of its own: train / query / gallery never draw from it)


class StableRng:
    """Random draws built only on ``Generator.random()`` (PCG64 doubles).

    NumPy does not promise that ``integers`` / ``choice`` keep their streams across versions (NEP 19), but the
    PCG64 bit stream and its conversion to doubles are fixed; deriving everything from those keeps SynthReID
    identical across NumPy versions as well as machines.
    """

    def __init__(self, *key: int):
        self._g = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key])))

    def random(self, size=None):
        return self._g.random(size)

    def integers(self, low: int, high: int | None = None, size=None):
        """Uniform integers in [low, high) (or [0, low))."""
        if high is None:
            low, high = 0, low
        v = low + np.floor(self._g.random(size) * (high - low)).astype(np.int64)
        return int(v) if size is None else v

    def choice(self, n: int, size=None, replace: bool = True, p=None):
        if not replace:
            return np.argsort(self._g.random(n), kind="stable")[:size]
        if p is None:
            return self.integers(n, size=size)
        cdf = np.cumsum(np.asarray(p, dtype=np.float64))
        v = np.minimum(np.searchsorted(cdf / cdf[-1], self._g.random(size), side="right"), n - 1)
        return int(v) if size is None else v


def rng_for(*key: int) -> StableRng:
    """A generator that depends only on the integer ``key`` (platform and NumPy-version independent)."""
    return StableRng(*key)


def q(x, step: float = 2.0 ** -12):
    """Quantise to a 2^-12 grid so the value is an exact float32 (|x| < 4096)."""
    return np.round(np.asarray(x, dtype=np.float64) / step) * step


@dataclass(frozen=True)
class Knobs:
    """Difficulty knobs, each in [0, 1] (``domain`` is "A" or "B").

    Attributes:
        misalignment: detection-box error. Vertical shift up to ±0.15·m of the box height, horizontal
            shift up to ±0.12·m of the width, person scale ×exp(±0.3·m) (>1 cuts head or feet, <1
            zooms out) and aspect ×exp(±0.15·m). 0 = tight, centred boxes.
        occlusion: probability that an image has an occluder (a second one with probability o/2), and
            occluder size, from ~8% of the box at o→0 up to ~45% at o=1. Occluders are other
            silhouettes, poles, cars and textured rectangles; they are background in the mask.
        truncation: probability of a part-missing box: only the top or bottom 50–80% of the body is
            inside the box, stretched to fill it (CGPN's "part-missing" crops).
        clutter: fraction of background clutter objects shown (their colours overlap clothing).
        pose: amplitude of the walking pose (limb swing, knee bend); 0 = rigid standing pose.
        domain: "A" (default style) or "B" (other backgrounds, warmer/darker light, higher cameras).
    """

    misalignment: float = 0.3
    occlusion: float = 0.2
    truncation: float = 0.05
    clutter: float = 0.5
    pose: float = 0.6
    domain: str = "A"

    def __post_init__(self) -> None:
        for name in ("misalignment", "occlusion", "truncation", "clutter", "pose"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"SynthReID knob {name!r} must be a number in [0, 1], got {v!r}")
        if self.domain not in DOMAINS:
            raise ValueError(f"SynthReID knob 'domain' must be one of {DOMAINS}, got {self.domain!r}")


@dataclass(frozen=True)
class Identity:
    """A person: a combination of attributes (indices into the palettes above)."""

    skin: int
    hair_colour: int
    hair_style: int        # 0 short, 1 long, 2 bun, 3 very short
    hat: int               # -1 none, else garment colour
    upper: int             # garment colour
    upper2: int            # second pattern colour
    pattern: int           # 0 solid, 1 stripes, 2 checks
    sleeves: int           # 0 long, 1 short, 2 none
    emblem: int            # -1 none, else emblem colour
    emblem_side: int       # 0 front, 1 back
    emblem_shape: int      # 0 square, 1 triangle, 2 inverted triangle
    lower: int             # garment colour
    lower_type: int        # 0 trousers, 1 shorts, 2 skirt
    shoes: int
    bag: int               # 0 none, 1 backpack, 2 shoulder bag
    bag_colour: int        # garment colour
    bag_side: int          # 0 person's left, 1 right (shoulder bag)
    height: float          # relative body height in the box
    build: float           # width factor


def sample_identity(seed: int, pid: int, salt: int = 0) -> Identity:
    """The attributes of identity ``pid`` (``salt`` separates distractors, which all have pid 0)."""
    r = rng_for(seed, _ID, pid, salt)
    ch = lambda n, p=None: int(r.choice(n, p=p))  # noqa: E731
    upper = ch(len(GARMENT))
    upper2 = (upper + 1 + ch(len(GARMENT) - 1)) % len(GARMENT)
    return Identity(
        skin=ch(len(SKIN)), hair_colour=ch(len(HAIR)), hair_style=ch(4, [0.4, 0.3, 0.15, 0.15]),
        hat=ch(len(GARMENT)) if r.random() < 0.2 else -1,
        upper=upper, upper2=upper2, pattern=ch(3, [0.55, 0.25, 0.2]), sleeves=ch(3, [0.45, 0.4, 0.15]),
        emblem=ch(len(EMBLEM)) if r.random() < 0.5 else -1, emblem_side=ch(2), emblem_shape=ch(3),
        lower=ch(len(GARMENT)), lower_type=ch(3, [0.6, 0.25, 0.15]), shoes=ch(len(SHOES)),
        bag=ch(3, [0.5, 0.3, 0.2]), bag_colour=ch(len(GARMENT)), bag_side=ch(2),
        height=float(q(0.92 + 0.14 * r.random())), build=float(q(0.88 + 0.27 * r.random())),
    )


@dataclass(frozen=True)
class Camera:
    """A camera's style: illumination, colour cast, background, viewpoint prior, blur, noise, resolution."""

    gain: float
    cast: tuple[float, float, float]
    plain: tuple[int, int]           # two background textures of this camera's scene
    view_p: tuple[float, float, float, float]
    blur_p: tuple[float, float, float]   # P(blur level 0, 1, 2)
    noise: float                     # noise std in grey levels
    block_p: tuple[float, float, float]  # P(effective resolution 1, 1/2, 1/3)
    height: float                    # camera height in [-1, 1]: high cameras see bigger heads, shorter legs
    light: float                     # top-to-bottom illumination gradient


def sample_camera(seed: int, camid: int, domain: str, n_plain: int) -> Camera:
    d = DOMAINS.index(domain)
    r = rng_for(seed, _CAM, camid, d)
    w = 0.25 + r.random(4)
    w[int(r.integers(4))] += 1.0  # each camera has a dominant viewpoint
    w /= w.sum()
    gain = 0.75 + 0.4 * r.random() if d == 0 else 0.6 + 0.35 * r.random()
    cast = 0.88 + 0.24 * r.random(3)
    if d == 1:  # warm, sodium-like light
        cast = cast * np.array([1.12, 1.0, 0.8])
    blur = r.random()
    plain = r.choice(n_plain, size=2, replace=False)
    return Camera(
        gain=float(q(gain)), cast=tuple(q(cast).tolist()), plain=(int(plain[0]), int(plain[1])),
        view_p=tuple(w.tolist()),
        blur_p=(0.7, 0.3, 0.0) if blur < 0.5 else (0.2, 0.5, 0.3),
        noise=float(q(2.0 + 6.0 * r.random())),
        block_p=(1.0, 0.0, 0.0) if r.random() < 0.5 else (0.3, 0.5, 0.2),
        height=float(q((r.random() - 0.5) * 0.6 if d == 0 else 0.4 + 0.6 * r.random())),
        light=float(q(0.25 * r.random())),
    )


# ----------------------------------------------------------------------------------------------
# Shape slots. Every image has the same list of primitives ("slots"); an absent one is disabled.
# Capsules: segment (a, b) with radius r0 at a and r1 at b. Traps: y in [y0, y1] and
# |x - xc(t)| <= w(t) with xc, w linear in t = (y - y0) / (y1 - y0). Both in world units.
# ----------------------------------------------------------------------------------------------
CAPSULES = ("head", "neck", "hair", "hat", "l_uarm", "r_uarm", "l_larm", "r_larm", "l_hand", "r_hand",
            "l_uleg", "r_uleg", "l_lleg", "r_lleg", "l_foot", "r_foot", "strap1", "strap2",
            "occ_c0", "occ_c1", "occ_c2", "occ_c3")
TRAPS = ("hair_long", "torso", "skirt", "bag", "emblem", "occ_r0", "occ_r1")
SLOTS = CAPSULES + TRAPS  # slot id = index + 1 (0 = background)

_PART = {"head": 1, "neck": 1, "hair": 1, "hat": 1, "hair_long": 1, "torso": 2, "emblem": 2,
         "l_uarm": 3, "r_uarm": 3, "l_larm": 4, "r_larm": 4, "l_hand": 4, "r_hand": 4,
         "l_uleg": 5, "r_uleg": 5, "skirt": 5, "l_lleg": 6, "r_lleg": 6, "l_foot": 7, "r_foot": 7}
#: part class (``PART_CLASSES`` index) of each slot id; bags and occluders are background (as in DensePose).
SLOT_PART = np.array([0] + [_PART.get(s, 0) for s in SLOTS], dtype=np.uint8)
OCCLUDER_SLOTS = np.array([i + 1 for i, s in enumerate(SLOTS) if s.startswith("occ_")])
BODY_SLOTS = np.array([i + 1 for i, s in enumerate(SLOTS) if _PART.get(s, 0) > 0])
SLOT_ID = {s: i + 1 for i, s in enumerate(SLOTS)}

#: slots whose pixels can carry each COCO keypoint (the keypoint is visible iff its pixel shows one)
_KP_SLOTS = [
    ("head", "neck", "hair", "hat", "hair_long")] * 5 + [
    ("l_uarm",), ("r_uarm",), ("l_uarm", "l_larm"), ("r_uarm", "r_larm"), ("l_larm", "l_hand"), ("r_larm", "r_hand"),
    ("torso", "l_uleg", "skirt"), ("torso", "r_uleg", "skirt"), ("l_uleg", "l_lleg", "skirt"),
    ("r_uleg", "r_lleg", "skirt"), ("l_lleg", "l_foot"), ("r_lleg", "r_foot")]
KEYPOINT_SLOTS = np.zeros((17, len(SLOTS) + 1), dtype=bool)
for _k, _names in enumerate(_KP_SLOTS):
    KEYPOINT_SLOTS[_k, [SLOT_ID[n] for n in _names]] = True
#: part classes each keypoint may lie on (for tests and checks)
KEYPOINT_PARTS = [sorted({int(SLOT_PART[SLOT_ID[n]]) for n in names}) for names in _KP_SLOTS]
#: keypoints seen only when the face (0: nose, 1/2: eyes) or a side (3/4: ears) is towards the camera
_FACING = {  # viewpoint -> keypoints hidden by the head itself
    0: (), 1: (0, 1, 2), 2: (2, 4), 3: (1, 3)}

_FAR = np.full(4, np.inf)


@dataclass
class ImageScene:
    """One image's parameters (world / box units). ``caps`` (n_caps, 8): ax, ay, bx, by, r0, r1, z, on;
    ``traps`` (n_traps, 8): y0, y1, xc0, xc1, w0, w1, z, on; ``colour`` (n_slots+1, 2, 3) RGB in [0, 255]
    (second colour used where the slot is patterned); ``kp`` (17, 2) world coords."""

    caps: np.ndarray
    traps: np.ndarray
    colour: np.ndarray
    patterned: np.ndarray   # (n_slots+1,) bool
    pattern: int
    period: float
    kp: np.ndarray
    kp_facing: np.ndarray   # (17,) bool: not hidden by the viewpoint
    box: np.ndarray         # u_c, v_top, h_box, aspect  (person placement in box units)
    light: np.ndarray       # gain (3,) after cast, light gradient
    bg: np.ndarray          # plain id, clutter id, zoom, off_u, off_v, clutter level
    noise: np.ndarray       # sigma, bank id, offsets(6) in [0,1)
    blur: int
    block: int
    meta: dict


def _limb(x0, y0, angle, length):
    """End point of a limb hanging from (x0, y0) at ``angle`` (radians, 0 = straight down, + = towards +x)."""
    return x0 + length * math.sin(angle), y0 + length * math.cos(angle)


def sample_image(seed: int, pid: int, camid: int, index: int, ident: Identity, cam: Camera, knobs: Knobs,
                 n_clutter: int) -> ImageScene:
    """All parameters of one image; depends only on its arguments (and they only on (seed, pid, camid, index))."""
    r = rng_for(seed, _IMG, pid, camid, index)
    # draw every uniform up front, independent of the knobs: raising a knob changes an image monotonically
    u = r.random(40)
    view = int(np.searchsorted(np.cumsum(cam.view_p), u[0] * 0.999999, side="right"))
    B = ident.build
    side_view = view >= 2
    facing = -1.0 if view == 2 else 1.0          # "left": we see the person's left side, they face image-left
    mirror = -1.0 if view == 1 else 1.0          # back view: the person's left is on image left
    phase = 2 * math.pi * u[1]
    amp = knobs.pose * (0.5 + 0.5 * u[2]) * 0.5  # swing amplitude (rad)
    s = math.sin(phase)

    # camera height: bigger head, shorter legs seen from above
    ch = cam.height
    head_s, leg_s = 1.0 + 0.12 * ch, 1.0 - 0.08 * ch
    hip_y = 0.52 * head_s / (0.52 * head_s + 0.48 * leg_s)   # renormalise total height to 1
    k_up = hip_y / 0.52
    k_lo = (1.0 - hip_y) / 0.48
    head_c, head_r = 0.075 * k_up, 0.052 * k_up
    sh_y, sh_x = 0.19 * k_up, (0.06 if side_view else 0.108) * B
    torso_w0, torso_w1 = (0.075 if side_view else 0.118) * B, (0.07 if side_view else 0.088) * B
    hip_x = (0.02 if side_view else 0.056) * B
    ua, la = 0.165 * k_up, 0.15 * k_up
    ul, ll = 0.215 * k_lo, 0.215 * k_lo

    caps = np.zeros((len(CAPSULES), 8))
    caps[:, :4] = 1e3  # disabled: far away, radius 0, behind everything
    caps[:, 6] = 1e3
    traps = np.zeros((len(TRAPS), 8))
    traps[:, 0], traps[:, 1], traps[:, 6] = 1e3, 1e3 + 1, 1e3
    C = {n: i for i, n in enumerate(CAPSULES)}
    T = {n: i for i, n in enumerate(TRAPS)}

    def cap(name, a, b, r0, r1, z):
        caps[C[name]] = (a[0], a[1], b[0], b[1], r0, r1, z, 1)

    def trap(name, y0, y1, xc0, xc1, w0, w1, z):
        traps[T[name]] = (y0, y1, xc0, xc1, w0, w1, z, 1)

    kp = np.zeros((17, 2))
    # side: +1 = person's left. In front view the person's left is at +x, back view at -x.
    # z: smaller is nearer. Side views put the near limbs in front of the torso and the far ones behind.
    for side, pre, kofs in ((1, "l", 0), (-1, "r", 1)):
        if side_view:
            near = (side == 1) == (view == 2)
            arm_z, leg_z = (0.2, 0.55) if near else (0.8, 0.7)
            x_sh = (0.015 if near else -0.015) * -facing
            x_hip = x_sh
            swing = side * s * amp
            th_arm = -swing * facing
            th_leg = swing * facing
            bend = max(0.0, side * math.cos(phase)) * amp * 1.2
            th_fore = th_arm + 0.25 * amp * facing
            th_shin = th_leg - bend * facing
            foot_dx = 0.055 * facing
        else:
            arm_z, leg_z = 0.3, 0.6
            x_sh, x_hip = side * mirror * sh_x, side * mirror * hip_x
            splay = side * mirror * (0.08 + 0.04 * u[3])
            th_arm, th_fore = splay, splay * 0.6
            th_leg, th_shin = side * mirror * 0.03, 0.0
            foot_dx = side * mirror * 0.012
            # walking towards/away from the camera foreshortens the swinging limbs
        fs = math.cos(side * s * amp) if not side_view else 1.0
        el = _limb(x_sh, sh_y, th_arm, ua * fs)
        wr = _limb(el[0], el[1], th_fore, la * fs)
        hd = _limb(wr[0], wr[1], th_fore, 0.035 * k_up)
        kn = _limb(x_hip, hip_y, th_leg, ul * fs)
        an = _limb(kn[0], kn[1], th_shin, ll * fs)
        if not side_view:  # keep the feet on the ground in a front/back view: stretch the shin
            an = (an[0], 1.0 - 0.04 * k_lo)
        toe = (an[0] + foot_dx, an[1] + 0.03 * k_lo)
        ra, rl = 0.03 * B * k_up, 0.046 * B * k_lo
        cap(f"{pre}_uarm", (x_sh, sh_y), el, ra, 0.85 * ra, arm_z)
        cap(f"{pre}_larm", el, wr, 0.8 * ra, 0.7 * ra, arm_z - 0.01)
        cap(f"{pre}_hand", wr, hd, 0.75 * ra, 0.75 * ra, arm_z - 0.02)
        cap(f"{pre}_uleg", (x_hip, hip_y), kn, rl, 0.8 * rl, leg_z)
        cap(f"{pre}_lleg", kn, an, 0.75 * rl, 0.55 * rl, leg_z - 0.01)
        cap(f"{pre}_foot", an, toe, 0.5 * rl, 0.5 * rl, leg_z - 0.02)
        kp[5 + kofs] = (x_sh, sh_y)
        kp[7 + kofs] = el
        kp[9 + kofs] = wr
        kp[11 + kofs] = (x_hip, hip_y)
        kp[13 + kofs] = kn
        kp[15 + kofs] = an

    neck_top = head_c + 0.6 * head_r
    cap("head", (0.0, head_c - 0.3 * head_r), (0.0, head_c + 0.35 * head_r), head_r, head_r * 0.95, 0.4)
    cap("neck", (0.0, neck_top), (0.0, sh_y - 0.02), 0.025 * B, 0.028 * B, 0.45)
    hair_front = view == 0
    if ident.hair_style != 3 or ident.hat < 0:
        hair_grow = 0.012 if ident.hair_style == 3 else 0.02
        dx = -facing * 0.012 if side_view else 0.0
        cap("hair", (dx, head_c - 0.35 * head_r), (dx, head_c - 0.1 * head_r if hair_front else head_c + 0.3 * head_r),
            head_r + hair_grow, head_r + hair_grow * 0.5, 0.42 if hair_front else 0.38)
    if ident.hair_style == 1:
        xc = -facing * 0.025 if side_view else 0.0
        trap("hair_long", head_c, sh_y + 0.09, xc, xc, head_r * 0.9, head_r * 1.1, 0.55 if hair_front else 0.36)
    if ident.hair_style == 2:  # a bun uses the hat slot (hair colour); a hat, if any, replaces it below
        bx = (-facing * head_r * 1.05, head_c - 0.2 * head_r) if side_view else (0.0, head_c - 1.05 * head_r)
        caps[C["hat"]] = (bx[0], bx[1], bx[0], bx[1], 0.45 * head_r, 0.45 * head_r, 0.43 if hair_front else 0.37, 1)
    if ident.hat >= 0:
        brim = (facing * 0.35 * head_r, 0.0) if side_view else (0.0, 0.0)
        cap("hat", (-0.5 * head_r + brim[0], head_c - 0.55 * head_r), (0.5 * head_r + brim[0], head_c - 0.55 * head_r),
            0.6 * head_r, 0.6 * head_r, 0.3)
    torso_top, torso_bot = sh_y - 0.03 * k_up, hip_y + 0.015
    trap("torso", torso_top, torso_bot, 0.0, 0.0, torso_w0, torso_w1, 0.5)
    kp[0] = (facing * 0.75 * head_r if side_view else 0.0, head_c + 0.15 * head_r)
    for k, sgn in ((1, 1), (2, -1)):  # eyes
        kp[k] = ((facing * 0.6 * head_r) if side_view else sgn * mirror * 0.38 * head_r, head_c - 0.1 * head_r)
    for k, sgn in ((3, 1), (4, -1)):  # ears
        kp[k] = ((-facing * 0.1 * head_r) if side_view else sgn * mirror * 0.92 * head_r, head_c + 0.05 * head_r)
    kp_facing = np.ones(17, dtype=bool)
    kp_facing[list(_FACING[view])] = False

    if ident.lower_type == 2:  # skirt over the upper legs
        trap("skirt", hip_y - 0.02, hip_y + 0.19 * k_lo, 0.0, 0.0, torso_w1 * 1.05, torso_w1 * 1.5, 0.54)
    if ident.bag == 1:  # backpack
        if view == 1:
            trap("bag", sh_y + 0.01, sh_y + 0.24, 0.0, 0.0, torso_w0 * 0.8, torso_w0 * 0.85, 0.35)
        elif view == 0:
            for name, sx in (("strap1", 1), ("strap2", -1)):
                cap(name, (sx * sh_x * 0.55, sh_y - 0.02), (sx * sh_x * 0.5, sh_y + 0.2), 0.012, 0.012, 0.45)
        else:
            xb = -facing * (torso_w0 + 0.035)
            trap("bag", sh_y, sh_y + 0.24, xb, xb, 0.045, 0.05, 0.6)
            cap("strap1", (0.0, sh_y - 0.01), (facing * 0.01, sh_y + 0.16), 0.012, 0.012, 0.3)
    elif ident.bag == 2:  # shoulder bag on the person's left (bag_side 0) or right
        side = 1 if ident.bag_side == 0 else -1
        if side_view:
            near = (side == 1) == (view == 2)
            trap("bag", hip_y - 0.09, hip_y + 0.03, facing * 0.02, facing * 0.02, 0.06, 0.065, 0.25 if near else 0.9)
            cap("strap1", (0.0, sh_y - 0.02), (facing * 0.02, hip_y - 0.09), 0.01, 0.01, 0.26 if near else 0.9)
        else:
            xb = side * mirror * (torso_w1 + 0.04)
            trap("bag", hip_y - 0.09, hip_y + 0.03, xb, xb, 0.05, 0.055, 0.25)
            cap("strap1", (-side * mirror * sh_x * 0.7, sh_y - 0.02), (xb, hip_y - 0.09), 0.01, 0.01, 0.46)
    if ident.emblem >= 0 and ident.emblem_side == view:  # front emblem in front view, back emblem in back view
        ey, ew = sh_y + 0.05, 0.03 * B
        w0, w1 = ((ew, ew), (0.0, ew * 1.3), (ew * 1.3, 0.0))[ident.emblem_shape]
        trap("emblem", ey, ey + 0.055, 0.01 * mirror, 0.01 * mirror, w0, w1, 0.44)

    # --- detection box (misalignment / truncation) -------------------------------------------------
    m = knobs.misalignment
    h_box = 0.9 * ident.height / 1.06 * 1.02
    scale = math.exp(m * 0.3 * (2 * u[4] - 1))
    aspect = math.exp(m * 0.15 * (2 * u[5] - 1))
    shift_y = m * 0.15 * (2 * u[6] - 1)
    shift_x = m * 0.12 * (2 * u[7] - 1)
    h = h_box * scale
    v_top = (1.0 - h) / 2 + shift_y
    truncated, cut_frac = 0, 0.0
    if u[8] < knobs.truncation:
        f = 0.5 + 0.3 * u[9]                  # fraction of the body kept; it fills the box
        h = 0.97 / f
        if u[10] < 0.5:                       # cut the bottom (legs missing)
            v_top, truncated = 0.015, 1
        else:                                 # cut the top (head/torso missing)
            v_top, truncated = 0.985 - h, 2
        cut_frac = 1.0 - f
    u_c = 0.5 + shift_x
    box = q([u_c, v_top, h, aspect])

    # --- occluders (box units converted to world units) --------------------------------------------
    o = knobs.occlusion
    occ_kind = [-1, -1]
    def to_world(bu, bv):  # noqa: E306
        return (bu - box[0]) * 0.5 / (box[2] * box[3]), (bv - box[1]) / box[2]   # box aspect W/H = 1/2

    occ_col = np.zeros((6, 3))
    for j in range(2):
        on = u[11] < o if j == 0 else (u[11] < o and u[12] < 0.5 * o)
        if not on:
            continue
        kind = int(u[13 + j] * 4)             # 0 rectangle, 1 pole, 2 car, 3 other person
        occ_kind[j] = kind
        size = 0.08 + 0.37 * o * (0.5 + 0.5 * u[15 + j])   # target area fraction of the box
        left = u[17 + j] < 0.5
        occ_col[j] = GARMENT[int(u[19 + j] * len(GARMENT))] * (0.6 + 0.4 * u[21 + j])
        occ_col[2 + j] = occ_col[j] * 0.5
        if kind == 0:   # textured rectangle from the bottom or a side
            hh, ww = math.sqrt(size) * 1.2, math.sqrt(size) / 1.2
            x0 = 0.0 if left else 1.0 - ww
            if u[23 + j] < 0.5:
                x0 = 0.5 - ww / 2 + 0.3 * (u[25 + j] - 0.5)
            y0 = 1.0 - hh
            p0, p1 = to_world(x0, y0), to_world(x0 + ww, 1.05)
            trap(f"occ_r{j}", p0[1], p1[1], (p0[0] + p1[0]) / 2, (p0[0] + p1[0]) / 2, (p1[0] - p0[0]) / 2,
                 (p1[0] - p0[0]) / 2, -1.0)
        elif kind == 1:  # pole: full height, width grows with size
            ww = size * 0.8
            xc = 0.5 + 0.6 * (u[25 + j] - 0.5)
            p0, p1 = to_world(xc - ww / 2, -0.05), to_world(xc + ww / 2, 1.05)
            trap(f"occ_r{j}", p0[1], p1[1], (p0[0] + p1[0]) / 2, (p0[0] + p1[0]) / 2, (p1[0] - p0[0]) / 2,
                 (p1[0] - p0[0]) / 2, -1.0)
        elif kind == 2:  # car: body from the bottom, two wheels
            hh = min(0.9, size * 1.1)
            p0, p1 = to_world(-0.1, 1.0 - hh), to_world(1.1, 1.05)
            trap(f"occ_r{j}", p0[1], p1[1], (p0[0] + p1[0]) / 2, (p0[0] + p1[0]) / 2, (p1[0] - p0[0]) / 2 * 0.9,
                 (p1[0] - p0[0]) / 2, -1.0)
            for wi, wu in enumerate((0.15, 0.85)):
                c = to_world(wu, 1.0 - 0.1 * hh)
                rr = 0.25 * hh / box[2]
                caps[C[f"occ_c{2 * j + wi}"]] = (c[0], c[1], c[0], c[1], rr, rr, -1.1, 1)
        else:  # another pedestrian passing in front, from one side
            hh = min(1.1, 0.5 + size * 1.6)
            xc = (0.05 if left else 0.95) + (0.1 if left else -0.1) * size * 2
            top = to_world(xc, 1.05 - hh)
            bot = to_world(xc, 1.1)
            rr = size * 0.35 / (box[2] * box[3])
            caps[C[f"occ_c{2 * j}"]] = (top[0], top[1] + rr, bot[0], bot[1], rr, rr * 0.8, -1.0, 1)
            hr = rr * 0.55
            caps[C[f"occ_c{2 * j + 1}"]] = (top[0], top[1] - hr * 0.7, top[0], top[1] - hr * 0.7, hr, hr, -1.0, 1)

    # --- colours --------------------------------------------------------------------------------
    n_slots = len(SLOTS) + 1
    colour = np.zeros((n_slots, 2, 3))
    skin, hair = SKIN[ident.skin], HAIR[ident.hair_colour]
    up, up2, lo = GARMENT[ident.upper], GARMENT[ident.upper2], GARMENT[ident.lower]
    sleeve = {0: ("uarm", "larm"), 1: ("uarm",), 2: ()}[ident.sleeves]
    for name in SLOTS:
        sid = SLOT_ID[name]
        c = skin
        if name in ("hair", "hair_long"):
            c = hair
        elif name == "hat":
            c = GARMENT[ident.hat] if ident.hat >= 0 else hair
        elif name == "torso" or name[2:] in sleeve:
            c = up
        elif name in ("skirt",) or name[2:] == "uleg" or (name[2:] == "lleg" and ident.lower_type == 0):
            c = lo
        elif name[2:] == "foot":
            c = SHOES[ident.shoes]
        elif name in ("bag", "strap1", "strap2"):
            c = GARMENT[ident.bag_colour] * 0.8
        elif name == "emblem":
            c = EMBLEM[max(ident.emblem, 0)]
        elif name.startswith("occ_"):
            c = occ_col[int(name[-1]) if name.startswith("occ_r") else 2 + int(name[-1]) // 2]
            if name.startswith("occ_c") and occ_kind[int(name[-1]) // 2] == 3:
                c = occ_col[int(name[-1]) // 2]
        colour[sid, 0] = c
        colour[sid, 1] = c
    patterned = np.zeros(n_slots, dtype=bool)
    if ident.pattern:
        for name in ("torso",) + tuple(f"{p}_{s}" for p in "lr" for s in sleeve):
            patterned[SLOT_ID[name]] = True
            colour[SLOT_ID[name], 1] = up2
    for j, kind in enumerate(occ_kind):  # occluder rectangles get a two-colour check texture
        if kind == 0:
            patterned[SLOT_ID[f"occ_r{j}"]] = True
            colour[SLOT_ID[f"occ_r{j}"], 1] = GARMENT[int(u[27 + j] * len(GARMENT))]

    # --- camera: light, background, noise, blur, resolution --------------------------------------
    gain = cam.gain * (0.92 + 0.16 * u[29]) * np.array(cam.cast)
    light = q(np.concatenate([gain, [cam.light]]))
    bg = q([cam.plain[int(u[30] < 0.5)], int(u[31] * n_clutter), 0.7 + 0.5 * u[32], u[33], u[34],
            knobs.clutter * (0.6 + 0.4 * u[35])])
    noise = q([cam.noise, 0, *r.random(6)])
    blur = int(np.searchsorted(np.cumsum(cam.blur_p), u[36] * 0.999999, side="right"))
    block = 1 + int(np.searchsorted(np.cumsum(cam.block_p), u[37] * 0.999999, side="right"))

    # the box actually applied (a part-missing box overrides the misalignment draw): centre offset of the
    # person in box units and person height relative to the identity's nominal height in the box
    meta = {"viewpoint": view, "shift_y": float(box[1] + box[2] / 2 - 0.5),
            "shift_x": float(shift_x), "scale": float(box[2] / h_box), "aspect": float(aspect), "truncated": truncated,
            "cut_frac": float(cut_frac), "occluder_kind": occ_kind[0], "n_occluders": sum(k >= 0 for k in occ_kind),
            "blur": blur, "resolution": 1.0 / block, "camera_height": ch, "phase": float(phase)}
    return ImageScene(caps=q(caps), traps=q(traps), colour=q(colour), patterned=patterned, pattern=ident.pattern,
                      period=float(q(0.035 * B)), kp=q(kp), kp_facing=kp_facing, box=box, light=light, bg=bg,
                      noise=noise, blur=blur, block=block, meta=meta)
