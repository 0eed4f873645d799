"""Packaging's one computed part (the rest is pyproject.toml): every package under mnist_design/ found by setuptools,
plus the two folders that ship inside it from the top of the checkout (pyproject.toml's package-dir maps them)."""

from setuptools import find_packages, setup

SHIPPED_FROM_TOP = ["mnist_design.conf", "mnist_design.results"]  # conf/ and results/research.yaml

setup(packages=[*find_packages(include=["mnist_design", "mnist_design.*"]), *SHIPPED_FROM_TOP])
