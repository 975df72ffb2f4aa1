"""An independent imzML reader for the tests: xml.etree for the XML, numpy.fromfile for the
.ibd. It shares no code with spatialembed and follows the imzML 1.1 specification literally."""
import xml.etree.ElementTree as ET

import numpy as np

NS = {"m": "http://psi.hupo.org/ms/mzml"}
DTYPES = {"MS:1000521": "<f4", "MS:1000523": "<f8", "MS:1000519": "<i4", "MS:1000522": "<i8"}


def _params(element, groups):
    params = {}
    for child in element:
        tag = child.tag.split("}")[-1]
        if tag == "cvParam":
            params[child.get("accession")] = child.get("value")
        elif tag == "referenceableParamGroupRef":
            for p in groups[child.get("ref")].findall("m:cvParam", NS):
                params[p.get("accession")] = p.get("value")
    return params


def read_imzml(path):
    """Return a list of dicts: x, y, stored_tic, mz, intensities (numpy arrays)."""
    root = ET.parse(path).getroot()
    groups = {g.get("id"): g for g in root.iter("{%s}referenceableParamGroup" % NS["m"])}
    ibd = str(path)[: str(path).rfind(".")] + ".ibd"
    spectra = []
    for spectrum in root.iter("{%s}spectrum" % NS["m"]):
        scan = _params(spectrum.find("m:scanList/m:scan", NS), groups)
        own = _params(spectrum, groups)
        record = {"x": int(scan["IMS:1000050"]), "y": int(scan["IMS:1000051"]),
                  "stored_tic": float(own.get("MS:1000285", "nan"))}
        for array in spectrum.findall("m:binaryDataArrayList/m:binaryDataArray", NS):
            p = _params(array, groups)
            dtype = next(DTYPES[a] for a in p if a in DTYPES)
            values = np.fromfile(ibd, dtype=dtype, count=int(p["IMS:1000103"]), offset=int(p["IMS:1000102"]))
            record["mz" if "MS:1000514" in p else "intensities"] = values.astype(np.float64)
        spectra.append(record)
    return spectra


def remove_spikes(image, mask):
    """Each measured pixel clipped to the largest of its measured 8-neighbours (kept when it
    has none), written out with shifted copies of the padded image."""
    padded = np.pad(np.where(mask, image, -np.inf).astype(np.float64), 1, constant_values=-np.inf)
    h, w = image.shape
    highest = np.max([padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
                      for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx], axis=0)
    out = np.where(np.isfinite(highest), np.minimum(image, highest), image)
    return np.where(mask, out, 0.0)


def preprocess_image(image, mask, quantile=0.99, spikes=True, ignore_zeros=True, scale=True):
    """One ion image through spike removal, the hotspot clip at numpy's quantile (over the
    non-zero measured pixels with ``ignore_zeros``) and min-max scaling; float64."""
    image = np.where(mask, image.astype(np.float64), 0.0)
    if spikes:
        image = remove_spikes(image, mask)
    values = image[mask]
    if ignore_zeros:
        values = values[values != 0]
    if quantile < 1 and values.size:
        image = np.minimum(image, np.quantile(values, quantile))
    if scale:
        lo, hi = image[mask].min(), image[mask].max()
        image = np.where(mask, (image - lo) / (hi - lo) if hi > lo else 0.0, 0.0)
    return image
