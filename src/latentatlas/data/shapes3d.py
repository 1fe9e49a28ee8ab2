"""Shapes3D-like: a procedural 3D scene on the official 3dshapes factor grid, ray-cast once.

Factor grid (the official one, row-major, the last factor fastest; 480,000 images of 64x64x3):

==========  ======  ================================================================
factor      values  official value
==========  ======  ================================================================
floor_hue   10      ``linspace(0, 0.9, 10)`` (HSV hue)
wall_hue    10      ``linspace(0, 0.9, 10)``
object_hue  10      ``linspace(0, 0.9, 10)``
scale       8       ``linspace(0.75, 1.25, 8)``
shape       4       0 cube, 1 cylinder, 2 sphere, 3 capsule
orientation 15      ``linspace(-30, 30, 15)`` degrees
==========  ======  ================================================================

Scene (world units, y up): a floor (y = 0), a back wall (z = 4) and two side walls (x = +-4); the
object stands on the floor at the origin. ``orientation`` is the azimuth of the camera orbiting
the object (equivalently the object and room rotated about the vertical axis): the visible faces
of the cube and capsule, the room's corners and the side of the lit sphere all change with it.
The camera sits 7 units from the vertical axis, 3 units up, looks at (0, 0.9, 0) with a 45 degree
field of view (pinhole). One directional light ``(-0.5, 1, -0.6)`` fixed in the world gives
Lambert shading (ambient 0.45 on the room, 0.3 on the object) and the object's cast shadow.
Objects at scale 1: cube of side 2; upright cylinder of radius 1 and height 2; sphere of radius
1; a capsule lying along x (radius 0.75, straight part 1.8 long). Colours are HSV
``(hue, 0.8, 1)`` times the shading. Each pixel averages 2x2 rays (anti-aliasing).

Speed: the geometry of the 480 (shape, scale, orientation) combinations is ray-cast once into
three coefficient maps per pixel (how much object, floor and wall colour it shows); an image is
then ``A * object_rgb + F * floor_rgb + W * wall_rgb``, one vectorised multiply-add per batch.
"""

from __future__ import annotations

import numpy as np

from latentatlas.data.base import GroundTruthData

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
IMAGE_SIZE = 64
SUPERSAMPLE = 2
SATURATION = 0.8

_ROOM_HALF_WIDTH = 4.0
_BACK_WALL_Z = 4.0
_CAMERA_DISTANCE = 7.0
_CAMERA_HEIGHT = 3.0
_LOOK_AT = np.array([0.0, 0.9, 0.0])
_FOV_DEGREES = 45.0
_LIGHT = np.array([-0.5, 1.0, -0.6]) / np.linalg.norm([-0.5, 1.0, -0.6])
_AMBIENT_ROOM = 0.45
_AMBIENT_OBJECT = 0.3
_EPS = 1e-6
# Every object at scale 1 fits in a sphere of this radius around (0, 1, 0) (cube: sqrt(3)).
_BOUND_RADIUS = 1.8


def official_factor_values() -> dict[str, np.ndarray]:
    """The official value of every class of every factor."""
    hues = np.linspace(0.0, 0.9, 10)
    return {
        "floor_hue": hues, "wall_hue": hues, "object_hue": hues.copy(),
        "scale": np.linspace(0.75, 1.25, 8),
        "shape": np.arange(4, dtype=np.float64),
        "orientation": np.linspace(-30.0, 30.0, 15),
    }


def hue_to_rgb(hue: np.ndarray, saturation: float = SATURATION, value: float = 1.0) -> np.ndarray:
    """Vectorised HSV -> RGB for hues in [0, 1): [..., 3] float."""
    hue = np.asarray(hue, dtype=np.float64)
    k = (np.array([5.0, 3.0, 1.0]) + hue[..., None] * 6.0) % 6.0
    return value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


# ---------------------------------------------------------------------------- ray casting
def camera_rays(orientation_degrees: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Origin [3] and unit directions [size * size, 3] (row-major pixels) of the orbiting camera."""
    az = np.radians(orientation_degrees)
    origin = np.array(
        [_CAMERA_DISTANCE * np.sin(az), _CAMERA_HEIGHT, -_CAMERA_DISTANCE * np.cos(az)])
    forward = _LOOK_AT - origin
    forward /= np.linalg.norm(forward)
    right = np.cross(np.array([0.0, 1.0, 0.0]), forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    half = np.tan(np.radians(_FOV_DEGREES) / 2)
    coords = ((np.arange(size) + 0.5) / size * 2 - 1) * half
    u, v = np.meshgrid(coords, -coords)  # v: +up for the top row
    dirs = forward + u.reshape(-1, 1) * right + v.reshape(-1, 1) * up
    return origin, dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def _nearest(t_a, n_a, t_b, n_b):
    closer = t_b < t_a
    return np.where(closer, t_b, t_a), np.where(closer[..., None], n_b, n_a)


def _hit_sphere(o, d, centre, radius):
    oc = o - centre
    a = np.einsum("...k,...k->...", d, d)  # d is not unit after mapping into the object frame
    b = np.einsum("...k,...k->...", oc, d)
    c = np.einsum("...k,...k->...", oc, oc) - radius**2
    disc = b * b - a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    t = np.where((disc >= 0) & (t > _EPS), t, np.inf)
    return t, (o + t[..., None] * d - centre) / radius


def _hit_box(o, d, lo, hi):
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    t_near = np.minimum(t1, t2)
    t_enter, axis = t_near.max(axis=-1), t_near.argmax(axis=-1)
    t_exit = np.maximum(t1, t2).min(axis=-1)
    t = np.where((t_enter <= t_exit) & (t_enter > _EPS), t_enter, np.inf)
    normal = np.zeros_like(d)
    sign = -np.sign(np.take_along_axis(d, axis[..., None], -1))[..., 0]
    np.put_along_axis(normal, axis[..., None], sign[..., None], -1)
    return t, normal


def _hit_cylinder(o, d, radius, y0, y1, axis: int = 1, centre=(0.0, 0.0, 0.0)):
    """Capped cylinder along ``axis`` (1: vertical; 0: along x) between y0 and y1 on that axis."""
    centre = np.asarray(centre)
    oc = o - centre
    a_, b_ = [k for k in range(3) if k != axis]
    a = d[..., a_] ** 2 + d[..., b_] ** 2
    b = oc[..., a_] * d[..., a_] + oc[..., b_] * d[..., b_]
    c = oc[..., a_] ** 2 + oc[..., b_] ** 2 - radius**2
    disc = b * b - a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / np.where(a < 1e-12, 1e-12, a)
    h = oc[..., axis] + t_side * d[..., axis]
    t_side = np.where((disc >= 0) & (t_side > _EPS) & (h >= y0) & (h <= y1), t_side, np.inf)
    p = oc + t_side[..., None] * d
    n_side = p.copy()
    n_side[..., axis] = 0.0
    n_side /= radius
    t_best, n_best = t_side, n_side
    for cap, sign in ((y1, 1.0), (y0, -1.0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cap = (cap - oc[..., axis]) / np.where(np.abs(d[..., axis]) < 1e-12, 1e-12,
                                                      d[..., axis])
        q = oc + t_cap[..., None] * d
        inside = q[..., a_] ** 2 + q[..., b_] ** 2 <= radius**2
        t_cap = np.where(inside & (t_cap > _EPS), t_cap, np.inf)
        n_cap = np.zeros_like(d)
        n_cap[..., axis] = sign
        t_best, n_best = _nearest(t_best, n_best, t_cap, n_cap)
    return t_best, n_best


def hit_object(shape: int, o: np.ndarray, d: np.ndarray, scale: np.ndarray):
    """Ray / object intersection: (t [...], unit normal [..., 3]); t = inf where missed.

    ``o``/``d`` are world rays, ``scale`` broadcasts against the ray batch; the object is
    scaled about its base, so the ray is mapped into the unit object's frame (t is unchanged).
    """
    s = np.asarray(scale, dtype=np.float64)[..., None]
    o, d = np.broadcast_to(o, d.shape) / s, d / s
    if shape == 0:
        return _hit_box(o, d, np.array([-1.0, 0.0, -1.0]), np.array([1.0, 2.0, 1.0]))
    if shape == 1:
        return _hit_cylinder(o, d, 1.0, 0.0, 2.0, axis=1)
    if shape == 2:
        return _hit_sphere(o, d, np.array([0.0, 1.0, 0.0]), 1.0)
    if shape == 3:
        r, half = 0.75, 0.9
        t, n = _hit_cylinder(o, d, r, -half, half, axis=0, centre=(0.0, r, 0.0))
        for x in (-half, half):
            t2, n2 = _hit_sphere(o, d, np.array([x, r, 0.0]), r)
            t, n = _nearest(t, n, t2, n2)
        return t, n
    raise ValueError(f"shape index must be 0..3, got {shape}")


def hit_room(o: np.ndarray, d: np.ndarray):
    """Nearest room surface: (t, normal, is_floor) for rays from inside the room."""
    n = d.shape[0]
    t_best = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    is_floor = np.zeros(n, bool)
    planes = ((1, 0.0, (0.0, 1.0, 0.0), True), (2, _BACK_WALL_Z, (0.0, 0.0, -1.0), False),
              (0, -_ROOM_HALF_WIDTH, (1.0, 0.0, 0.0), False),
              (0, _ROOM_HALF_WIDTH, (-1.0, 0.0, 0.0), False))
    for axis, value, nrm, floor in planes:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (value - o[axis]) / d[:, axis]
        t = np.where(np.isfinite(t) & (t > _EPS), t, np.inf)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        normal[closer] = nrm
        is_floor = np.where(closer, floor, is_floor)
    return t_best, normal, is_floor


def render_coefficients(shapes: int | list[int], scales: np.ndarray, orientation_degrees: float,
                        size: int = IMAGE_SIZE, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Colour coefficient maps: object, floor and wall weight of every pixel.

    Pixel colour = c0 * object_rgb + c1 * floor_rgb + c2 * wall_rgb. Returns
    [len(scales), 3, size, size] for one shape index, [len(scales), len(shapes), 3, size, size]
    for a list. The camera rays, the room and the object bounds are shared by all shapes.
    """
    one = isinstance(shapes, (int, np.integer))
    shape_list = [int(shapes)] if one else [int(k) for k in shapes]
    scales = np.atleast_1d(np.asarray(scales, dtype=np.float64))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        out = _render_coefficients(shape_list, scales, orientation_degrees, size, supersample)
    return out[:, 0] if one else out


def _through_bounds(o: np.ndarray, d: np.ndarray, scale: float) -> np.ndarray:
    """Rays (unit d) that pass within the bounding sphere of every object at ``scale``."""
    centre = np.array([0.0, scale, 0.0])
    oc = o - centre
    b = np.einsum("...k,...k->...", oc, d)
    closest = np.einsum("...k,...k->...", oc, oc) - b * b  # squared distance to the line
    ahead = (b < 0) | (np.einsum("...k,...k->...", oc, oc) <= (_BOUND_RADIUS * scale) ** 2)
    return np.broadcast_to((closest <= (_BOUND_RADIUS * scale) ** 2) & ahead, d.shape[:1]).copy()


def _render_coefficients(shapes, scales, orientation_degrees, size, supersample):
    big = size * supersample
    origin, dirs = camera_rays(orientation_degrees, big)
    t_room, n_room, floor = hit_room(origin, dirs)
    p_room = origin + t_room[:, None] * dirs
    room_light = np.clip(n_room @ _LIGHT, 0.0, None)
    light = np.broadcast_to(_LIGHT, p_room.shape)
    out = np.zeros((len(scales), len(shapes), 3, big * big))
    for k, s in enumerate(scales):
        # Only rays through the objects' bounding sphere can hit them: intersect those alone.
        near_view = np.flatnonzero(_through_bounds(origin[None], dirs, s))
        near_shadow = np.flatnonzero(_through_bounds(p_room, light, s))
        for j, shape in enumerate(shapes):
            t_obj, n_obj = hit_object(shape, origin[None], dirs[near_view], s)
            hit = t_obj < t_room[near_view]
            on_object = np.zeros(len(dirs), bool)
            on_object[near_view[hit]] = True
            # Shadow rays from the room surface towards the light.
            lit = np.ones(len(dirs), bool)
            lit[near_shadow] = np.isinf(hit_object(shape, p_room[near_shadow],
                                                   light[near_shadow], s)[0])
            room_shade = _AMBIENT_ROOM + (1 - _AMBIENT_ROOM) * room_light * lit
            out[k, j, 0, near_view[hit]] = _AMBIENT_OBJECT + (1 - _AMBIENT_OBJECT) * np.clip(
                n_obj[hit] @ _LIGHT, 0.0, None)
            out[k, j, 1] = np.where(~on_object & floor, room_shade, 0.0)
            out[k, j, 2] = np.where(~on_object & ~floor, room_shade, 0.0)
    out = out.reshape(len(scales), len(shapes), 3, size, supersample, size, supersample)
    return out.mean(axis=(4, 6))


class Shapes3DLike(GroundTruthData):
    """Procedural Shapes3D on the official 10 x 10 x 10 x 8 x 4 x 15 grid (module docstring).

    Deterministic: observations do not depend on ``rng``. The geometry is ray-cast once per
    process (about a second) and shared by all instances.
    """

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    factors_num_values = FACTOR_SIZES
    observation_shape = (IMAGE_SIZE, IMAGE_SIZE, 3)
    _shared_coefficients: np.ndarray | None = None

    @property
    def coefficients(self) -> np.ndarray:
        """float32 [scale 8, shape 4, orientation 15, 64 * 64, 3] coefficient maps (object,
        floor, wall) of every geometry, built on first use."""
        cls = type(self)
        if cls._shared_coefficients is None:
            vals = official_factor_values()
            coef = np.empty((8, 4, 15, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
            for k_or, degrees in enumerate(vals["orientation"]):
                coef[:, :, k_or] = render_coefficients([0, 1, 2, 3], vals["scale"], degrees)
            cls._shared_coefficients = np.ascontiguousarray(
                coef.reshape(8, 4, 15, 3, -1).transpose(0, 1, 2, 4, 3))
        return cls._shared_coefficients

    def factor_values(self, factors: np.ndarray) -> np.ndarray:
        """Official values [N, 6] (hues in [0, 0.9], scale, shape id, orientation in degrees)."""
        factors = self._check_factors(factors)
        vals = official_factor_values()
        return np.stack([vals[n][factors[:, k]] for k, n in enumerate(FACTOR_NAMES)], axis=1)

    def sample_observations_from_factors(
        self, factors: np.ndarray, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Images float32 [N, 64, 64, 3] in [0, 1]; deterministic (``rng`` is unused)."""
        factors = self._check_factors(factors)
        hues = official_factor_values()["floor_hue"]
        palette = hue_to_rgb(hues).astype(np.float32)  # [10, 3]
        # colours[n] rows: object, floor, wall RGB.
        colours = np.stack([palette[factors[:, 2]], palette[factors[:, 0]],
                            palette[factors[:, 1]]], axis=1)  # [N, 3, 3]
        coef = self.coefficients[factors[:, 3], factors[:, 4], factors[:, 5]]  # [N, 4096, 3]
        images = np.matmul(coef, colours)  # [N, 4096, 3]
        np.clip(images, 0.0, 1.0, out=images)
        return images.reshape(len(factors), IMAGE_SIZE, IMAGE_SIZE, 3)


def render_reference(factors: np.ndarray) -> np.ndarray:
    """Straightforward renderer: ray-casts every image from scratch (no shared geometry).

    The benchmark's naive baseline; returns the same images as :class:`Shapes3DLike`.
    """
    factors = np.asarray(factors, dtype=np.int64)
    vals = official_factor_values()
    out = np.empty((len(factors), IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
    for i, f in enumerate(factors):
        coef = render_coefficients(int(f[4]), vals["scale"][f[3]: f[3] + 1],
                                   vals["orientation"][f[5]])[0]  # [3, 64, 64]
        rgb = hue_to_rgb(vals["floor_hue"][[f[2], f[0], f[1]]])  # object, floor, wall
        out[i] = np.clip(np.einsum("khw,kc->hwc", coef, rgb), 0.0, 1.0)
    return out
