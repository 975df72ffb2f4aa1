"""IonImageStack: extraction against NumPy on the independent reader's arrays, PNG stacks
against Pillow, preprocessing against NumPy, peak picking and isotope pairs."""
import numpy as np
import pytest
from PIL import Image

import spatialembed
from msi_reference import preprocess_image, read_imzml


def brute_force(spectra, centres, tol_ppm, shape, origin):
    images = np.zeros((len(centres),) + shape, np.float64)
    for s in spectra:
        for k, c in enumerate(centres):
            h = c * tol_ppm * 1e-6
            inside = (s["mz"] >= c - h) & (s["mz"] <= c + h)
            images[k, s["y"] - origin[1], s["x"] - origin[0]] = s["intensities"][inside].sum()
    return images


@pytest.mark.parametrize("name", ["mouse_kidney_nyakas2013", "mouse_kidney_nyakas2013_centroid"])
def test_kidney_ion_images_match_numpy(data_dir, name):
    path = data_dir / "msi" / "mouse_kidney" / f"{name}.imzML"
    centres = [4963.0, 6225.0, 8565.0, 3445.0]
    stack = spatialembed.IonImageStack.from_imzml(path, centres, tol_ppm=1000, n_jobs=2)
    assert stack.images.shape == (4, 38, 73) and stack.images.dtype == np.float32
    assert stack.mask.sum() == 2222
    assert stack.origin == (29, 61) and stack.pixel_size == (100.0, 100.0)
    expected = brute_force(read_imzml(path), centres, 1000, (38, 73), (29, 61))
    np.testing.assert_allclose(stack.images, expected, rtol=1e-6)
    # The section is visible: signal inside the mask, zeros outside, structure inside.
    assert np.all(stack.images[:, ~stack.mask] == 0)
    if "centroid" not in name:  # profile: every pixel has signal at these protein m/z
        assert np.all((stack.images[:, stack.mask] > 0).mean(axis=1) > 0.5)
        assert stack.images[0, stack.mask].std() > 0.2 * stack.images[0, stack.mask].mean()


def test_images_are_zero_copy_and_outside_mz_warns(data_dir):
    path = data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"
    with spatialembed.ImzMLReader(path) as reader:
        with pytest.warns(UserWarning, match="outside the data's m/z range"):
            stack = reader.ion_images([5000.0, 50.0], tol_da=2.0, aggregate="max")
    assert stack.images.base is not None and not stack.images.flags.owndata
    assert np.all(stack.images[1] == 0)
    with pytest.raises(ValueError, match="tolerance must be"):
        spatialembed.IonImageStack.from_imzml(path, [5000.0], tol_ppm=0)
    with pytest.raises(ValueError, match="tolerance must be"):
        spatialembed.IonImageStack.from_imzml(path, [5000.0], tol_da=-1)


def test_mean_spectrum_and_peaks(data_dir):
    path = data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"
    spectra = read_imzml(path)
    with spatialembed.ImzMLReader(path) as reader:
        mz, mean = reader.mean_spectrum(n_jobs=2)
        mz_tic, mean_tic = reader.mean_spectrum(normalization="tic", n_jobs=1)
    np.testing.assert_allclose(mean, np.mean([s["intensities"] for s in spectra], axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean_tic, np.mean([s["intensities"] / s["intensities"].sum() for s in spectra], axis=0),
                               rtol=1e-9)
    peaks = spatialembed.pick_peaks(mz, mean, snr=3, top_n=10)
    assert len(peaks["mz"]) == 10 and np.all(np.diff(peaks["mz"]) > 0)
    stack = spatialembed.IonImageStack.from_imzml(path, peaks["mz"], tol_ppm=500)
    assert stack.n_images == 10 and np.all(stack.images.sum(axis=(1, 2)) > 0)
    centroid = path.with_name("mouse_kidney_nyakas2013_centroid.imzML")
    with spatialembed.ImzMLReader(centroid) as reader:
        cmz, cmean = reader.mean_spectrum(bin_ppm=200)
    assert cmean.sum() * 2222 == pytest.approx(sum(s["intensities"].sum() for s in read_imzml(centroid)), rel=1e-9)


def test_png_stack_matches_pillow(data_dir, tmp_path):
    folder = data_dir / "msi" / "mouse_bladder_png"
    stack = spatialembed.IonImageStack.from_png_dir(folder)
    assert stack.images.shape == (150, 135, 261) and stack.mask.sum() == 34840
    files = sorted(folder.glob("*.png"), key=lambda p: float(p.stem))
    np.testing.assert_array_equal(stack.mz, [float(p.stem) for p in files])
    for k in (0, 77, 149):
        rgba = np.asarray(Image.open(files[k]).convert("RGBA"))
        assert np.array_equal(stack.mask, rgba[..., 3] == 255)
        np.testing.assert_allclose(stack.images[k], np.where(stack.mask, rgba[..., :3].mean(axis=2) / 255, 0), atol=1e-7)
    stack.to_png_dir(tmp_path / "copy", bit_depth=16)
    again = spatialembed.IonImageStack.from_png_dir(tmp_path / "copy")
    np.testing.assert_allclose(again.images, stack.images, atol=1 / 65535)
    np.testing.assert_array_equal(again.mask, stack.mask)


def test_preprocess_matches_numpy():
    rng = np.random.default_rng(3)
    images = rng.lognormal(0, 2, (4, 20, 30)).astype(np.float32)
    mask = rng.uniform(size=(20, 30)) < 0.8
    images[:, ~mask] = 0
    stack = spatialembed.IonImageStack(images, mask, np.arange(4) + 100.0)
    images[:, 5:9, 5:9] = 0  # a hole inside the measured area: zeros the quantile skips by default
    stack = spatialembed.IonImageStack(images, mask, np.arange(4) + 100.0)
    for options in (dict(), dict(remove_spikes=False, hotspot_ignore_zeros=False)):
        out = stack.preprocess(hotspot_quantile=0.95, **options)
        for k in range(4):
            expected = preprocess_image(images[k], mask, 0.95, spikes=options.get("remove_spikes", True),
                                        ignore_zeros=options.get("hotspot_ignore_zeros", True))
            np.testing.assert_allclose(out.images[k], expected, rtol=1e-5, atol=1e-6)
            assert np.all(out.images[k][~mask] == 0)
    tic = stack.preprocess(tic_normalize=True, remove_spikes=False, hotspot_quantile=1.0, scale=False)
    covered = images[:, mask].sum(axis=0) > 0  # the hole's pixels sum to 0 and stay 0
    np.testing.assert_allclose(tic.images[:, mask].sum(axis=0), covered.astype(float), rtol=1e-5)
    with pytest.raises(ValueError, match="median_filter"):
        stack.preprocess(median_filter=2)
    assert stack.pixels().shape == (mask.sum(), 4) and stack.vectors().shape == (4, mask.sum())


def test_isotope_pairs_and_plot(tmp_path):
    pairs, charge = spatialembed.isotope_pairs([500.0, 501.00336, 700.0, 700.50168], tol_ppm=5, max_charge=2)
    np.testing.assert_array_equal(pairs, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(charge, [1, 2])
    import matplotlib
    matplotlib.use("Agg")
    stack = spatialembed.IonImageStack(np.random.default_rng(0).random((5, 8, 9)), mz=np.arange(5) + 300.0)
    fig = stack.plot(ncols=3)
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000
