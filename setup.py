"""Builds the compiled module spatialembed._core with CMake (the project's one build system).

Environment:
  SPATIALEMBED_BUILD_DIR   CMake build folder to use (default: build/python under the source tree)
  SPATIALEMBED_JOBS        parallel compile jobs (default: all cores)
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("SPATIALEMBED_BUILD_DIR", ROOT / "build" / "python"))
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DSPATIALEMBED_BUILD_PYTHON=ON",
            "-DSPATIALEMBED_BUILD_TESTS=OFF",
            "-DSPATIALEMBED_BUILD_EXAMPLES=OFF",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
        ]
        jobs = os.environ.get("SPATIALEMBED_JOBS", str(os.cpu_count() or 1))
        subprocess.run(configure, check=True)
        # _core, and _nn next to it when LibTorch is found.
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "python_modules", "-j", jobs], check=True)


setup(ext_modules=[CMakeExtension("spatialembed._core")], cmdclass={"build_ext": CMakeBuild})
