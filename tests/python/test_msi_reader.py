"""spatialembed.ImzMLReader / ImzMLWriter against an independent reader (xml.etree + numpy)."""
import shutil
import subprocess

import numpy as np
import pytest

import spatialembed
from msi_reference import read_imzml


@pytest.fixture(scope="module")
def kidney(data_dir):
    return data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"


@pytest.mark.parametrize("name", ["Example_Continuous", "Example_Processed"])
def test_reference_examples_match_independent_reader(data_dir, name):
    path = data_dir / "msi" / "imzml_examples" / f"{name}.imzML"
    reference = read_imzml(path)
    with spatialembed.ImzMLReader(path, verify_checksum=True) as reader:
        assert len(reader) == len(reference) == 9
        assert reader.mode == name.split("_")[1].lower()
        for i, spectrum in enumerate(reference):
            assert tuple(reader.coordinates[i, :2]) == (spectrum["x"], spectrum["y"])
            np.testing.assert_array_equal(reader.mz(i), spectrum["mz"])
            np.testing.assert_array_equal(reader.intensities(i), spectrum["intensities"])
            assert reader.tic(i) == pytest.approx(spectrum["intensities"].sum())
            assert reader.tic(i) == pytest.approx(spectrum["stored_tic"], rel=1e-6)


def test_kidney_matches_independent_reader_and_maldiquant_tic(kidney):
    reference = read_imzml(kidney)
    with spatialembed.ImzMLReader(kidney) as reader:
        assert len(reader) == len(reference) == 2222
        np.testing.assert_array_equal(reader.coordinates[:, :2], [[s["x"], s["y"]] for s in reference])
        assert reader.metadata["intensity_type"] == "float64"
        assert reader.metadata["pixel_size_x"] == 100
        lo, hi = reader.mz_range()
        assert lo == pytest.approx(2400.0297, abs=1e-3) and hi == pytest.approx(10998.9967, abs=1e-3)
        for i in range(0, 2222, 101):
            y = reader.intensities(i)
            np.testing.assert_array_equal(y, reference[i]["intensities"])
            assert reader.tic(i) == reference[i]["intensities"].sum()
            # R MALDIquant's totalIonCurrent is the trapezoid integral over m/z; the file states it.
            assert np.trapz(y, reader.mz(i)) == pytest.approx(reference[i]["stored_tic"], rel=1e-12)
        assert reader.tic(0) == 1370.0
        assert reader.stored_tic[0] == pytest.approx(2965.24730127435, rel=1e-14)


def test_centroid_kidney_same_pixels(data_dir, kidney):
    centroid = data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013_centroid.imzML"
    reference = read_imzml(centroid)
    with spatialembed.ImzMLReader(centroid) as reader, spatialembed.ImzMLReader(kidney) as profile:
        assert reader.mode == "processed"
        np.testing.assert_array_equal(reader.coordinates, profile.coordinates)
        assert 50 < reader.lengths.mean() < 80
        for i in (0, 1000, 2221):
            np.testing.assert_array_equal(reader.mz(i), reference[i]["mz"])
            np.testing.assert_array_equal(reader.intensities(i), reference[i]["intensities"])


@pytest.mark.parametrize("mode", ["continuous", "processed"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_writer_round_trip_through_both_readers(tmp_path, mode, dtype):
    rng = np.random.default_rng(0)
    path = tmp_path / "out.imzML"
    axis = np.linspace(500, 510, 64)
    written = []
    with spatialembed.ImzMLWriter(path, mode=mode, intensity_dtype=dtype, pixel_size=25) as writer:
        for y in range(1, 4):
            for x in range(1, 6):
                mz = axis if mode == "continuous" else np.sort(rng.uniform(500, 510, rng.integers(1, 40)))
                intensities = np.round(rng.uniform(0, 1000, mz.size))
                writer.add_spectrum((x, y), mz, intensities)
                written.append((x, y, mz, intensities))
    reference = read_imzml(path)
    with spatialembed.ImzMLReader(path, verify_checksum=True) as reader:
        assert reader.mode == mode and len(reader) == 15
        assert reader.metadata["pixel_size_x"] == 25
        for i, (x, y, mz, intensities) in enumerate(written):
            for got in (reference[i], {"x": reader.coordinates[i, 0], "y": reader.coordinates[i, 1],
                                       "mz": reader.mz(i), "intensities": reader.intensities(i)}):
                assert (got["x"], got["y"]) == (x, y)
                np.testing.assert_array_equal(got["mz"], mz)
                np.testing.assert_array_equal(got["intensities"], intensities)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_r_maldiquantforeign_reads_our_files(tmp_path):
    """R MALDIquantForeign (Debian r-cran-maldiquantforeign), an independent imzML reader."""
    if subprocess.run(["Rscript", "-e", "library(MALDIquantForeign)"], capture_output=True).returncode != 0:
        pytest.skip("R package MALDIquantForeign is not installed")
    rng = np.random.default_rng(1)
    results = {}
    for mode in ("continuous", "processed"):
        path = tmp_path / f"{mode}.imzML"
        with spatialembed.ImzMLWriter(path, mode=mode, intensity_dtype="float64") as writer:
            for x in range(1, 4):
                mz = np.linspace(1000, 1010, 50) if mode == "continuous" else np.sort(rng.uniform(1000, 1010, 30))
                writer.add_spectrum((x, 2), mz, rng.uniform(0, 100, mz.size))
        script = (f"library(MALDIquantForeign); s <- importImzMl('{path}', verbose=FALSE); "
                  "for (x in s) cat(metaData(x)$imaging$pos, length(mass(x)), sprintf('%.10g', sum(intensity(x))), "
                  "sprintf('%.10g', mass(x)[1]), '\\n')")
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in out.strip().splitlines()]
        with spatialembed.ImzMLReader(path) as reader:
            assert len(rows) == len(reader)
            for i, row in enumerate(rows):
                assert (int(row[0]), int(row[1])) == tuple(reader.coordinates[i, :2])
                assert int(row[2]) == reader.lengths[i]
                assert float(row[3]) == pytest.approx(reader.tic(i), rel=1e-9)
                assert float(row[4]) == pytest.approx(reader.mz(i)[0], rel=1e-9)
        results[mode] = rows
    assert len(results) == 2


def test_bad_input_errors_name_the_file(tmp_path, data_dir):
    source = data_dir / "msi" / "imzml_examples"
    for suffix in (".imzML", ".ibd"):
        shutil.copy(source / f"Example_Processed{suffix}", tmp_path / f"p{suffix}")
    # missing .ibd -> OSError
    with pytest.raises(OSError, match="missing.ibd"):
        spatialembed.ImzMLReader(tmp_path / "p.imzML", ibd_path=tmp_path / "missing.ibd")
    # truncated .ibd -> ValueError with the byte offset
    data = (tmp_path / "p.ibd").read_bytes()
    (tmp_path / "t.ibd").write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"t\.ibd.*spectrum 8.*byte offset \d+.*past the end"):
        spatialembed.ImzMLReader(tmp_path / "p.imzML", ibd_path=tmp_path / "t.ibd")
    # UUID mismatch
    (tmp_path / "u.ibd").write_bytes(b"\0" * 16 + data[16:])
    with pytest.raises(ValueError, match="UUID mismatch"):
        spatialembed.ImzMLReader(tmp_path / "p.imzML", ibd_path=tmp_path / "u.ibd")
    # malformed XML
    text = (tmp_path / "p.imzML").read_text(encoding="latin-1")
    (tmp_path / "m.imzML").write_text(text[: len(text) // 2], encoding="latin-1")
    with pytest.raises(ValueError, match=r"m\.imzML: malformed XML at byte offset"):
        spatialembed.ImzMLReader(tmp_path / "m.imzML", ibd_path=tmp_path / "p.ibd")
    # unknown data type
    (tmp_path / "d.imzML").write_text(text.replace("MS:1000521", "MS:1234567"), encoding="latin-1")
    with pytest.raises(ValueError, match="no known data-type accession"):
        spatialembed.ImzMLReader(tmp_path / "d.imzML", ibd_path=tmp_path / "p.ibd")
    with spatialembed.ImzMLReader(tmp_path / "p.imzML") as reader:
        with pytest.raises(ValueError, match="out of range"):
            reader.mz(9)
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        len(reader)
