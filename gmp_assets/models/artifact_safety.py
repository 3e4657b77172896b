"""What a registered model version may carry before the platform loads it.

A version the platform logs holds one native Keras file, ``model/model.keras`` (config JSON and
HDF5 weights in a zip, loaded with ``safe_mode=True``), next to its run's ``vocabulary.json``; the
SHA-256 of each is recorded on the version (tag ``DIGEST_TAG``) when it is registered. Loading
refuses a version with no recorded digests, with a file whose digest differs, with a file it did
not record, or with anything that unpickles: a ``*.pkl``/``*.pickle``/cloudpickle file, pickle
bytes under another name, or an MLflow ``python_function`` flavour (its loader runs code).

Pure functions over names, bytes and paths; the registry (``models/registry.py``) does the I/O.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import yaml

DIGEST_TAG = "gmp.artifact_sha256"
MODEL_DIR = "model"
MODEL_FILE = "model.keras"
MODEL_PATH = f"{MODEL_DIR}/{MODEL_FILE}"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".cloudpickle", ".joblib", ".dill")
# Pickle protocols 2-5 start with the PROTO opcode followed by the protocol number.
PICKLE_PREFIXES = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


class UnsafeModelError(RuntimeError):
    """A model version the platform refuses to load; the message says why."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_tag_value(digests: Mapping[str, str]) -> str:
    """The tag value recording ``digests`` (artifact path -> SHA-256), sorted for a stable text."""
    return json.dumps(dict(sorted(digests.items())), separators=(",", ":"))


def recorded_digests(tags: Mapping[str, str]) -> dict[str, str] | None:
    """Artifact path -> SHA-256 recorded on a model version, or None if it has none (or not a valid one)."""
    raw = tags.get(DIGEST_TAG)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def is_pickle_name(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(PICKLE_SUFFIXES) or "pickle" in name


def looks_like_pickle(head: bytes) -> bool:
    """Whether a file's first bytes are a pickle stream (protocol 2 or later)."""
    return head[:2] in PICKLE_PREFIXES


def listing_problems(files: list[str], digests: dict[str, str] | None) -> list[str]:
    """What is wrong with a version's file list (run artifact paths) before anything is downloaded."""
    problems = [f"{path} is a pickle file" for path in files if is_pickle_name(path)]
    if digests is None:
        problems.append(
            f"no artifact digests were recorded at registration (tag {DIGEST_TAG}): it was not logged"
            " by this platform's safe format; retrain it"
        )
        return problems
    if MODEL_PATH not in digests:
        problems.append(f"its recorded digests name no {MODEL_PATH}")
    unexpected = sorted(set(files) - set(digests))
    problems += [f"{path} was not recorded at registration" for path in unexpected if not is_pickle_name(path)]
    missing = sorted(p for p in digests if p.startswith(f"{MODEL_DIR}/") and p not in files)
    problems += [f"{path} was recorded at registration but is missing" for path in missing]
    return problems


def mlmodel_problem(text: str) -> str | None:
    """Why an MLflow ``MLmodel`` file is refused: a ``python_function`` flavour loads through its
    loader module, which may unpickle (cloudpickle'd custom objects, a pickled python_model)."""
    try:
        flavors = (yaml.safe_load(text) or {}).get("flavors") or {}
    except yaml.YAMLError:
        return "MLmodel is not valid YAML"
    pyfunc = flavors.get("python_function")
    if pyfunc is None:
        return None
    return (
        f"MLmodel declares a python_function flavour (loader_module {pyfunc.get('loader_module', '?')}),"
        " whose loading may unpickle"
    )


def file_problems(path: str, local: Path, expected: str | None) -> list[str]:
    """What is wrong with one downloaded artifact ``path`` (its copy at ``local``)."""
    problems = []
    with open(local, "rb") as handle:
        if looks_like_pickle(handle.read(2)):
            problems.append(f"{path} holds pickle bytes")
    if expected is not None and sha256_file(local) != expected:
        problems.append(f"{path} does not match the SHA-256 recorded at registration (tampered or replaced)")
    if path.endswith(".keras"):
        problems += keras_archive_problems(path, local)
    return problems


def keras_archive_problems(path: str, local: Path) -> list[str]:
    """A ``.keras`` file must be the zip Keras writes: its config, metadata and weights, nothing pickled."""
    try:
        with zipfile.ZipFile(local) as archive:
            members = archive.namelist()
            pickled = [m for m in members if is_pickle_name(m) or looks_like_pickle(archive.open(m).read(2))]
    except zipfile.BadZipFile:
        return [f"{path} is not a Keras archive (zip)"]
    problems = [f"{path} contains the pickle {m}" for m in pickled]
    if "config.json" not in members:
        problems.append(f"{path} has no config.json")
    unknown = sorted(m for m in members if m not in KERAS_MEMBERS and not m.startswith("assets/") and m not in pickled)
    problems += [f"{path} contains an unexpected member {m}" for m in unknown]
    return problems


def refusal(name: str, version: str, problems: list[str]) -> UnsafeModelError:
    return UnsafeModelError(f"{name} version {version} refused: " + "; ".join(problems))
