"""Bad input a new user gives: each gets a clear ValueError/OSError naming the file and the numbers
(from the API) and exit status 1 with that message (from the CLI), never a raw codec, libstdc++
or std::bad_alloc message, and never a silent misreading."""
import codecs
import re
import shutil
import struct
import time
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest

import spatialembed as se
from msi_reference import NS, _params
from spatialembed.cli import main
from spatialembed.workflow import read_mz_list


@pytest.fixture()
def cli(capsys):
    def run(*args):
        capsys.readouterr()
        returncode = main([str(a) for a in args])
        return returncode, capsys.readouterr().err
    return run


# ------------------------------------------------------------------ m/z lists

def test_mz_list_encodings(tmp_path):
    text = "m/z\n500.1\n600.25\n700.5\n"
    expected = [500.1, 600.25, 700.5]
    for name, data in [("utf8.txt", text.encode()), ("bom.txt", codecs.BOM_UTF8 + text.encode()),
                       ("utf16.txt", text.encode("utf-16")), ("utf16be.txt", codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
                       ("crlf.csv", text.replace("\n", "\r\n").encode())]:
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_mz_list(tmp_path / name), expected, err_msg=name)
    # A BOM before the first value, no header: the value is kept (it used to be skipped as a header).
    (tmp_path / "bom_values.txt").write_bytes(codecs.BOM_UTF8 + b"500.1\n600.25\n")
    np.testing.assert_array_equal(read_mz_list(tmp_path / "bom_values.txt"), [500.1, 600.25])


@pytest.mark.parametrize("name, data, message", [
    ("utf16_no_bom.txt", "500.1\n600.2\n".encode("utf-16-le"), r"not a text file \(a NUL byte at byte offset 1"),
    ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ("latin1.txt", "m/z (\xb5)\n500.1\n".encode("latin-1"), r"not UTF-8 text \(byte 0xb5 at byte offset 5\)"),
    ("semicolons.txt", b"500.1;600.2;700.3\n", r"line 1: 3 numbers separated by ';' \(500.1, 600.2, 700.3\)"),
    ("spaces.txt", b"500.1 600.2 700.3 800.4 900.5\n", r"5 numbers separated by spaces \(500.1, 600.2, 700.3, 800.4, …\)"),
    ("commas.txt", b"m/z\n500.1,600.2\n", "2 numbers separated by ','"),
    ("decimal_comma.csv", b"mz;name\n500,1;a\n600,2;b\n", r"line 2: expected an m/z value, got '500,1' \(a decimal comma"),
    ("zero.txt", b"500.1\n0\n", "line 2: m/z values must be finite and > 0, got '0'"),
    ("empty.txt", b"# nothing\n\n", "lists no m/z value"),
])
def test_mz_list_refusals_name_the_file(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as caught:
        read_mz_list(path)
    assert str(path) in str(caught.value)


def test_mz_list_that_is_a_folder_or_missing(tmp_path):
    with pytest.raises(IsADirectoryError, match=re.escape(f"{tmp_path}: is a folder, not an m/z list")):
        read_mz_list(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_mz_list(tmp_path / "missing.txt")


def test_cli_mz_list_errors(data_dir, tmp_path, cli):
    example = data_dir / "msi" / "imzml_examples" / "Example_Continuous.imzML"
    (tmp_path / "list.txt").write_bytes("500.1\n".encode("utf-16-le"))
    code, err = cli("cluster-ions", example, "--out", tmp_path / "out", "--mz-list", tmp_path / "list.txt")
    assert code == 1 and str(tmp_path / "list.txt") in err and "not a text file" in err and "codec" not in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ imzML readers

def test_imzml_reader_on_a_folder(tmp_path):
    (tmp_path / "x.imzML").mkdir()
    with pytest.raises(OSError, match=re.escape(f"{tmp_path / 'x.imzML'}: is a folder, not an .imzML file")):
        se.ImzMLReader(tmp_path / "x.imzML")


def _intensity_arrays(path):
    """(x, y, byte offset, length, dtype) of each spectrum's intensity array, read with xml.etree."""
    root = ET.parse(path).getroot()
    groups = {g.get("id"): g for g in root.iter("{%s}referenceableParamGroup" % NS["m"])}
    out = []
    for spectrum in root.iter("{%s}spectrum" % NS["m"]):
        scan = _params(spectrum.find("m:scanList/m:scan", NS), groups)
        for array in spectrum.findall("m:binaryDataArrayList/m:binaryDataArray", NS):
            p = _params(array, groups)
            if "MS:1000515" in p:
                dtype = "<f4" if "MS:1000521" in p else "<f8"
                out.append((int(scan["IMS:1000050"]), int(scan["IMS:1000051"]), int(p["IMS:1000102"]),
                            int(p["IMS:1000103"]), dtype))
    return out


def test_nan_intensity_is_rejected_at_the_reader(data_dir, tmp_path, cli):
    source = data_dir / "msi" / "imzml_examples" / "Example_Processed"
    shutil.copy(source.with_suffix(".imzML"), tmp_path / "nan.imzML")
    shutil.copy(source.with_suffix(".ibd"), tmp_path / "nan.ibd")
    x, y, offset, length, dtype = _intensity_arrays(tmp_path / "nan.imzML")[4]
    assert dtype == "<f4"
    with open(tmp_path / "nan.ibd", "r+b") as f:  # the 100th intensity of spectrum 4 becomes NaN
        f.seek(offset + 100 * 4)
        f.write(struct.pack("<f", float("nan")))
    where = rf"spectrum 4 \(pixel x={x}, y={y}\) has a NaN intensity at byte offset {offset + 400} \(element 100\)"
    with se.ImzMLReader(tmp_path / "nan.imzML") as reader:
        assert np.isfinite(reader.intensities(3)).all()
        with pytest.raises(ValueError, match=where):
            reader.intensities(4)
        with pytest.raises(ValueError, match=where):
            reader.mean_spectrum()
        with pytest.raises(ValueError, match=where):
            se.IonImageStack.from_imzml(reader, [300.0], tol_ppm=50)
    code, err = cli("cluster-ions", tmp_path / "nan.imzML", "--out", tmp_path / "out", "--method", "umap_only")
    assert code == 1 and "nan.imzML" in err and "spectrum 4" in err and "NaN intensity" in err


def test_far_pixel_coordinates_say_the_canvas_and_memory(data_dir, tmp_path, cli):
    source = data_dir / "msi" / "imzml_examples" / "Example_Processed"
    xml = source.with_suffix(".imzML").read_text(encoding="latin-1")
    # The first spectrum moves to the largest allowed coordinates (2^24).
    xml = re.sub(r'(accession="IMS:1000050"[^>]*value=")1"', r'\g<1>16777216"', xml, count=1)
    xml = re.sub(r'(accession="IMS:1000051"[^>]*value=")1"', r'\g<1>16777216"', xml, count=1)
    (tmp_path / "far.imzML").write_text(xml, encoding="latin-1")
    shutil.copy(source.with_suffix(".ibd"), tmp_path / "far.ibd")
    message = r"far.imzML: the pixel coordinates of its 9 spectra \(x 1..16777216, y 1..16777216\) span a canvas " \
              r"of 16777216 x 16777216 pixels; 1 ion image\(s\) on it: 3.\d+ PiB of memory needed, more than this " \
              r"machine's"
    with se.ImzMLReader(tmp_path / "far.imzML") as reader:
        with pytest.raises(ValueError, match=message):
            se.IonImageStack.from_imzml(reader, [300.0], tol_ppm=50)
    (tmp_path / "mz.txt").write_text("300\n400\n500\n")
    code, err = cli("cluster-ions", tmp_path / "far.imzML", "--out", tmp_path / "out", "--method", "umap_only",
                    "--mz-list", tmp_path / "mz.txt")
    assert code == 1 and "span a canvas of 16777216 x 16777216 pixels" in err and "bad_alloc" not in err


# ------------------------------------------------------------------ PNG folders

def _png_header_only(width, height):
    """A PNG whose header states width x height 8-bit grey pixels, with one tiny IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b""))


def test_a_huge_png_is_refused_from_its_header(data_dir, tmp_path, cli):
    folder = tmp_path / "huge"
    shutil.copytree(data_dir / "msi" / "barley_png", folder, ignore=shutil.ignore_patterns("*.json", "*.h5"))
    (folder / "500.5.png").write_bytes(_png_header_only(100_000, 100_000))
    message = r"500.5.png: 100000 x 100000 pixels \(width x height, 10000000000 pixels\) is larger than " \
              r"max_image_pixels = 134217728"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        se.IonImageStack.from_png_dir(folder)
    assert time.perf_counter() - start < 10  # was 38 s, then std::bad_alloc
    with pytest.raises(ValueError, match=r"max_image_pixels = 1000\b"):
        se.PreparedIonImages.from_png_dir(folder, max_image_pixels=1000)
    code, err = cli("cluster-ions", folder, "--out", tmp_path / "out", "--method", "umap_only")
    assert code == 1 and "500.5.png" in err and "max_image_pixels" in err
    # The limit is an option: the barley images themselves are 4,000-odd pixels.
    (folder / "500.5.png").unlink()
    barley = se.IonImageStack.from_png_dir(folder)
    n_pixels = barley.shape[1] * barley.shape[2]
    assert len(se.IonImageStack.from_png_dir(folder, max_image_pixels=n_pixels)) == 101
    with pytest.raises(ValueError, match=f"is larger than max_image_pixels = {n_pixels - 1}"):
        se.IonImageStack.from_png_dir(folder, max_image_pixels=n_pixels - 1)
    with pytest.raises(ValueError, match="max_image_pixels"):
        se.IonImageStack.from_png_dir(folder, max_image_pixels=0)


# ------------------------------------------------------------------ too few images

def test_too_few_non_empty_images_say_what_is_possible(tmp_path, cli):
    rng = np.random.default_rng(1)
    images = np.zeros((30, 12, 12), np.float32)
    images[0] = rng.uniform(size=(12, 12))
    se.IonImageStack(images, None, 400.0 + np.arange(30)).to_png_dir(tmp_path / "one")
    code, err = cli("cluster-ions", tmp_path / "one", "--out", tmp_path / "out", "--method", "umap_only")
    assert code == 1
    assert "1 non-empty ion image (29 of 30 are empty) is too few for UMAP with n_neighbors = 15" in err
    assert "at least 3 non-empty ion images are needed" in err and "n_neighbors < 1" not in err
    images[1:5] = rng.uniform(size=(4, 12, 12))
    se.IonImageStack(images, None, 400.0 + np.arange(30)).to_png_dir(tmp_path / "five")
    code, err = cli("cluster-ions", tmp_path / "five", "--out", tmp_path / "out", "--method", "umap_only")
    assert code == 1 and "5 non-empty ion images (25 of 30 are empty) are too few for UMAP with n_neighbors = 15" in err
    assert "set n_neighbors to at most 4" in err and "or give at least 16 non-empty ion images" in err
    assert main(["cluster-ions", str(tmp_path / "five"), "--out", str(tmp_path / "out"), "--method", "umap_only",
                 "--n-neighbors", "4", "--min-samples", "2", "--no-report", "--quiet"]) == 0
