"""spatialembed.spatial_image against PIL and tifffile: rectangles of JPEG (the real her2st
C2 image), PNG and TIFF (tiled BigTIFF, stripped, JPEG-compressed tiles), spot tiles and
their resampling, the batch loader, and the errors for bad files and options."""
import io
import struct

import numpy as np
import pytest
from PIL import Image

from spatialembed import spatial_image as si

Image.MAX_IMAGE_PIXELS = None  # her2st images are above PIL's decompression-bomb limit

RNG = np.random.default_rng(0)


def expected_region(full, x0, y0, w, h, fill=255):
    """The rectangle of an (H, W, 3) array or a loaded PIL RGB image, pixels outside = fill
    (the reference for read_region)."""
    out = np.full((h, w, 3), fill, np.uint8)
    H, W = full.shape[:2] if isinstance(full, np.ndarray) else full.size[::-1]
    xs, ys, xe, ye = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xe > xs and ye > ys:
        inside = full[ys:ye, xs:xe] if isinstance(full, np.ndarray) else np.asarray(full.crop((xs, ys, xe, ye)))
        out[ys - y0:ye - y0, xs - x0:xe - x0] = inside
    return out


def random_rects(W, H, n=12, max_side=300):
    rects = [(int(RNG.integers(-50, W)), int(RNG.integers(-50, H)), int(RNG.integers(1, max_side)),
              int(RNG.integers(1, max_side))) for _ in range(n)]
    return rects + [(W - 10, H - 10, 30, 40), (-400, -400, 20, 10), (0, 0, W, min(H, 64))]


def check_regions(path, full, fill=255):
    image = si.open_image(path)
    H, W = full.shape[:2] if isinstance(full, np.ndarray) else full.size[::-1]
    rects = random_rects(W, H)
    for (x0, y0, w, h), region in zip(rects, image.read_regions(rects, fill=fill, num_threads=2)):
        np.testing.assert_array_equal(region, expected_region(full, x0, y0, w, h, fill), err_msg=f"{path} {x0, y0, w, h}")
    x0, y0, w, h = rects[0]
    np.testing.assert_array_equal(si.read_image_region(path, x0, y0, w, h, fill=fill),
                                  expected_region(full, x0, y0, w, h, fill))


def pattern(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.dstack([(xx * 7 + yy * 3) % 256, (xx ^ (yy * 5)) & 255, (xx * yy + 11 * xx) % 251]).astype(np.uint8)


# ------------------------------------------------------------------ the real her2st image

@pytest.fixture(scope="module")
def c2(data_dir):
    """her2st C2: the image path, PIL's full decode (9,274 x 9,911 RGB; a loaded PIL image,
    cropped per comparison) and the spot table."""
    path = data_dir / "st" / "her2st" / "images" / "C2.jpg"
    spots = np.genfromtxt(data_dir / "st" / "her2st" / "spots" / "C2_selection.tsv", delimiter="\t", names=True)
    full = Image.open(path)
    assert full.mode == "RGB"
    full.load()
    yield path, full, spots
    full.close()


def test_her2st_regions_equal_pil_exactly(c2):
    # PIL decodes JPEG with the same libjpeg-turbo and settings (ISLOW IDCT, fancy upsampling),
    # so the cropped, row-skipping decode must give PIL's pixels exactly.
    path, full, _ = c2
    info = si.image_info(path)
    assert info == {"path": str(path), "format": "jpeg", "width": 9274, "height": 9911, "random_access": False}
    check_regions(path, full)
    check_regions(path, full, fill=0)


def test_her2st_tiles_equal_pil_crops_and_land_on_tissue(c2):
    path, full, spots = c2
    x, y = spots["pixel_x"], spots["pixel_y"]
    tiles = si.cut_tiles(path, x, y, size=224, n_jobs=2)
    assert tiles.pixels.shape == (len(x), 224, 224, 3) and tiles.pixels.dtype == np.uint8
    assert tiles.crop_size == 224 and len(tiles.padded) == 0
    for i in range(len(x)):  # PIL's Image.crop at the documented origin
        x0, y0 = int(np.floor(x[i] - 112 + 0.5)), int(np.floor(y[i] - 112 + 0.5))
        assert si.tile_origin(x[i], 224) == x0 and si.tile_origin(y[i], 224) == y0
        np.testing.assert_array_equal(tiles.pixels[i], np.asarray(full.crop((x0, y0, x0 + 224, y0 + 224))),
                                      err_msg=f"spot {i}")
    # Spots under tissue: H&E is much darker than the white background (corners ≈ 240).
    means = tiles.pixels.reshape(len(x), -1).mean(axis=1)
    W, H = full.size
    corners = [np.asarray(full.crop((0, 0, 224, 224))).mean(), np.asarray(full.crop((W - 224, H - 224, W, H))).mean()]
    assert min(corners) > 230
    assert means.max() < 215 and np.median(means) < 180


# ------------------------------------------------------------------ formats

def test_png_variants(tmp_path):
    img = pattern(203, 301)
    Image.fromarray(img).save(tmp_path / "rgb.png")
    check_regions(tmp_path / "rgb.png", img)
    Image.fromarray(np.dstack([img, img[..., :1]])).save(tmp_path / "rgba.png")  # alpha dropped, as convert("RGB")
    check_regions(tmp_path / "rgba.png", img)
    palette = Image.fromarray(img).quantize(32)
    palette.save(tmp_path / "palette.png")
    check_regions(tmp_path / "palette.png", np.asarray(palette.convert("RGB")))
    grey16 = img[..., 0].astype(np.uint16) * 257 + 1
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    check_regions(tmp_path / "grey16.png", np.repeat((grey16 >> 8).astype(np.uint8)[..., None], 3, axis=2))


@pytest.mark.parametrize("mode, options", [("RGB", {"progressive": True}), ("RGB", {"subsampling": 1}),
                                           ("L", {}), ("CMYK", {})])
def test_jpeg_variants_equal_pil(tmp_path, mode, options):
    img = Image.fromarray(pattern(203, 301)).convert(mode)
    img.save(tmp_path / "image.jpg", quality=90, **options)
    with Image.open(tmp_path / "image.jpg") as im:
        check_regions(tmp_path / "image.jpg", np.asarray(im.convert("RGB")))


def test_decoded_by_content_not_name(tmp_path):
    img = pattern(120, 150)
    Image.fromarray(img).save(tmp_path / "really_a_jpeg.png", format="JPEG", quality=90)  # as in STimage-1K4M
    Image.fromarray(img).save(tmp_path / "really_a_png.jpg", format="PNG")
    assert si.image_info(tmp_path / "really_a_jpeg.png")["format"] == "jpeg"
    assert si.image_info(tmp_path / "really_a_png.jpg")["format"] == "png"
    with Image.open(tmp_path / "really_a_jpeg.png") as im:
        check_regions(tmp_path / "really_a_jpeg.png", np.asarray(im.convert("RGB")))
    check_regions(tmp_path / "really_a_png.jpg", img)


def test_tiff_tiled_bigtiff_and_stripped(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    img = RNG.integers(0, 256, (700, 900, 3), dtype=np.uint8)  # partial edge tiles both ways
    tifffile.imwrite(tmp_path / "tiled.tif", img, tile=(256, 256), bigtiff=True)
    tifffile.imwrite(tmp_path / "tiled_zlib.tif", img, tile=(256, 256), bigtiff=True, compression="zlib")
    tifffile.imwrite(tmp_path / "stripped.tif", img, rowsperstrip=37, compression="zlib")
    tifffile.imwrite(tmp_path / "grey16.tif", img[..., 1].astype(np.uint16) * 257, tile=(128, 128))
    assert si.image_info(tmp_path / "tiled.tif")["random_access"]
    assert not si.image_info(tmp_path / "stripped.tif")["random_access"]
    for name in ("tiled.tif", "tiled_zlib.tif", "stripped.tif"):
        check_regions(tmp_path / name, img)
    check_regions(tmp_path / "grey16.tif", np.repeat(img[..., 1:2], 3, axis=2))


def write_jpeg_tiled_tiff(path, img, tile=256):
    """A classic TIFF of JPEG-compressed YCbCr 4:2:0 tiles, each a JFIF stream made by PIL
    (tifffile needs imagecodecs to write JPEG tiles)."""
    h, w = img.shape[:2]
    tiles = []
    for ty in range(0, h, tile):
        for tx in range(0, w, tile):
            t = np.zeros((tile, tile, 3), np.uint8)
            part = img[ty:ty + tile, tx:tx + tile]
            t[:part.shape[0], :part.shape[1]] = part
            buffer = io.BytesIO()
            Image.fromarray(t).save(buffer, format="JPEG", quality=90, subsampling=2)
            tiles.append(buffer.getvalue())
    out = bytearray(b"II" + struct.pack("<HI", 42, 0))
    offsets = []
    for t in tiles:
        offsets.append(len(out))
        out += t

    def array(fmt, values):
        position = len(out)
        out.extend(struct.pack("<" + fmt * len(values), *values))
        return position
    offsets_at, counts_at, bits_at = array("I", offsets), array("I", [len(t) for t in tiles]), array("H", [8, 8, 8])
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, bits_at), (259, 3, 1, 7), (262, 3, 1, 6), (277, 3, 1, 3),
               (284, 3, 1, 1), (322, 4, 1, tile), (323, 4, 1, tile), (324, 4, len(tiles), offsets_at),
               (325, 4, len(tiles), counts_at), (530, 3, 2, 2 | (2 << 16))]  # YCbCrSubSampling 2, 2
    ifd = len(out)
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 and count == 1
                                                         else struct.pack("<I", value))
    out += struct.pack("<I", 0)
    out[4:8] = struct.pack("<I", ifd)
    path.write_bytes(bytes(out))


def test_tiff_with_jpeg_tiles(tmp_path):
    yy, xx = np.mgrid[0:700, 0:900]
    img = np.dstack([xx * 255 // 900, yy * 255 // 700, (xx + yy) % 256]).astype(np.uint8)
    write_jpeg_tiled_tiff(tmp_path / "jpeg_tiles.tif", img)
    with Image.open(tmp_path / "jpeg_tiles.tif") as im:  # PIL reads it through libtiff
        reference = np.asarray(im.convert("RGB"))
    assert np.abs(reference.astype(int) - img).mean() < 3  # a JPEG of the image
    assert si.image_info(tmp_path / "jpeg_tiles.tif")["random_access"]
    check_regions(tmp_path / "jpeg_tiles.tif", reference)


# ------------------------------------------------------------------ tiles

@pytest.mark.parametrize("filter_name, pil_filter", [("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC),
                                                     ("lanczos", Image.LANCZOS), ("box", Image.BOX)])
def test_resampled_tiles_equal_pil_resize(tmp_path, filter_name, pil_filter):
    img = pattern(400, 500)
    img[100:250, 150:300] = (200, 40, 120)  # edges for the filters to smooth
    Image.fromarray(img).save(tmp_path / "image.png")
    x, y = RNG.uniform(-30, 530, 25), RNG.uniform(-30, 430, 25)
    for output_size in (96, 37, 300):
        tiles = si.cut_tiles(tmp_path / "image.png", x, y, size=224, output_size=output_size, filter=filter_name, fill=0)
        assert tiles.pixels.shape == (25, output_size, output_size, 3)
        for i in range(25):
            x0, y0 = si.tile_origin(x[i], 224), si.tile_origin(y[i], 224)
            crop = Image.fromarray(expected_region(img, x0, y0, 224, 224, fill=0))
            expected = np.asarray(crop.resize((output_size, output_size), pil_filter, reducing_gap=None))
            np.testing.assert_array_equal(tiles.pixels[i], expected, err_msg=f"{filter_name} {output_size} spot {i}")


def test_tiles_padded_diameter_multiple_and_threads(tmp_path):
    img = pattern(200, 260)
    Image.fromarray(img).save(tmp_path / "image.jpg", quality=95)
    with Image.open(tmp_path / "image.jpg") as im:
        full = np.asarray(im.convert("RGB"))
    x = np.array([130.0, 5.0, -500.0, 259.4])
    y = np.array([100.0, 100.0, 50.0, 199.6])
    one = si.cut_tiles(tmp_path / "image.jpg", x, y, spot_diameter=30.2, diameter_multiple=2, output_size=32, n_jobs=1)
    two = si.cut_tiles(tmp_path / "image.jpg", x, y, spot_diameter=30.2, diameter_multiple=2, output_size=32, n_jobs=2)
    assert one.crop_size == 60  # round(2 x 30.2)
    np.testing.assert_array_equal(one.pixels, two.pixels)
    assert list(one.padded) == [1, 2, 3]
    plain = si.cut_tiles(tmp_path / "image.jpg", x, y, spot_diameter=30.2, diameter_multiple=2, fill=7)
    assert (plain.pixels[2] == 7).all()  # entirely outside: all fill
    for i in range(4):
        x0, y0 = si.tile_origin(x[i], 60), si.tile_origin(y[i], 60)
        np.testing.assert_array_equal(plain.pixels[i], expected_region(full, x0, y0, 60, 60, fill=7))


def test_iter_tiles_batches_equal_cut_tiles(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    img = pattern(300, 420)
    tifffile.imwrite(tmp_path / "tiled.tif", img, tile=(64, 64))
    Image.fromarray(img).save(tmp_path / "image.png")
    x, y = RNG.uniform(0, 420, 23), RNG.uniform(0, 300, 23)
    for name in ("tiled.tif", "image.png"):
        whole = si.cut_tiles(tmp_path / name, x, y, size=50, output_size=20)
        loader = si.iter_tiles(tmp_path / name, x, y, size=50, output_size=20, batch_size=5, prefetch=1)
        assert len(loader) == 5 and loader.num_spots == 23
        batches = list(loader)
        assert [list(b.spots) for b in batches] == [list(range(i, min(i + 5, 23))) for i in range(0, 23, 5)]
        np.testing.assert_array_equal(np.concatenate([b.pixels for b in batches]), whole.pixels)


# ------------------------------------------------------------------ errors

def test_bad_files_and_options(tmp_path):
    with pytest.raises(OSError, match="missing.jpg"):
        si.image_info(tmp_path / "missing.jpg")
    (tmp_path / "notes.png").write_bytes(b"GIF89a....")
    with pytest.raises(ValueError, match=r"notes\.png.*47 49 46 38"):
        si.image_info(tmp_path / "notes.png")
    img = pattern(200, 300)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=90)
    (tmp_path / "truncated.jpg").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    si.read_image_region(tmp_path / "truncated.jpg", 0, 0, 50, 8)  # rows before the cut decode
    with pytest.raises(ValueError, match="truncated.jpg"):
        si.read_image_region(tmp_path / "truncated.jpg", 0, 180, 50, 20)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    (tmp_path / "truncated.png").write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    with pytest.raises(ValueError, match="truncated.png"):
        si.cut_tiles(tmp_path / "truncated.png", [150.0], [190.0], size=16)
    (tmp_path / "ok.png").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="width and height"):
        si.read_image_region(tmp_path / "ok.png", 0, 0, -1, 4)
    with pytest.raises(ValueError, match="fill"):
        si.read_image_region(tmp_path / "ok.png", 0, 0, 4, 4, fill=300)
    with pytest.raises(ValueError, match="size"):
        si.cut_tiles(tmp_path / "ok.png", [1.0], [1.0], size=0)
    with pytest.raises(ValueError, match="non-finite"):
        si.cut_tiles(tmp_path / "ok.png", [1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        si.cut_tiles(tmp_path / "ok.png", [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="filter"):
        si.cut_tiles(tmp_path / "ok.png", [1.0], [1.0], filter="nearest")
    with pytest.raises(TypeError, match="unknown tile option 'side'"):
        si.cut_tiles(tmp_path / "ok.png", [1.0], [1.0], side=10)
