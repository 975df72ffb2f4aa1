"""The one progress adapter: a tqdm bar fed by a C++ progress callback ``(done, total)``."""


class ProgressBar:
    """Callable from C++ (returns True: never asks to stop); shows nothing without tqdm.

    Parameters
    ----------
    desc : str
        The bar's label.
    unit : str
        What is counted ("tiles", "epoch", …).
    """

    def __init__(self, desc, unit):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self._tqdm, self._desc, self._unit, self._bar = tqdm, desc, unit, None

    def __call__(self, done, total):
        if self._tqdm is None:
            return True
        if self._bar is None:
            self._bar = self._tqdm(total=total, desc=self._desc, unit=f" {self._unit}", unit_scale=True)
        self._bar.update(done - self._bar.n)
        return True

    def close(self):
        if self._bar is not None:
            self._bar.close()
