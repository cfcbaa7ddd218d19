"""Expand the robot xacro files with or without a ROS installation.

xacro resolves `$(find pkg)` through ament_index_python, which only exists on a ROS
machine. Here (and in CI) the same descriptions must expand, so when the ament index
is missing `$(find pkg)` falls back to `vla_ros.assets.share_dir`: `vla_ros` is the
source tree, `example-robot-data` the PyPI package's data folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from vla_ros.assets import AssetError, share_dir


class XacroError(RuntimeError):
    """A xacro file could not be expanded; the message names the file and xacro's reason."""


def _find_package_share(package: str) -> str:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        try:
            return str(share_dir(package))
        except AssetError as exc:
            raise XacroError(f"$(find {package}): {exc}") from exc
    return get_package_share_directory(package)


@contextlib.contextmanager
def _find_without_ament() -> Iterator[None]:
    """Route xacro's `$(find)` and `${find()}` through `_find_package_share` while expanding."""
    from xacro import substitution_args as subst

    saved_eval_find = subst._eval_find
    saved_dict_find = subst._eval_dict.get("find")
    subst._eval_find = _find_package_share
    subst._eval_dict["find"] = _find_package_share
    try:
        yield
    finally:
        subst._eval_find = saved_eval_find
        if saved_dict_find is not None:
            subst._eval_dict["find"] = saved_dict_find


def expand_xacro(path: str | Path, **args: object) -> str:
    """Expand `path` with xacro args `args` (values turned into strings) to URDF XML text.

    >>> expand_xacro("urdf/panda.urdf.xacro", hardware="mock")  # doctest: +SKIP
    """
    try:
        import xacro
    except ImportError as exc:  # pragma: no cover - xacro is a dev dependency
        raise XacroError("the `xacro` package is needed: pip install xacro") from exc
    path = Path(path)
    if not path.is_file():
        raise XacroError(f"{path}: no such xacro file")
    mappings = {key: _as_xacro_value(value) for key, value in args.items()}
    with _find_without_ament():
        try:
            document = xacro.process_file(str(path), mappings=mappings)
        except XacroError:
            raise
        except Exception as exc:  # xacro raises XacroException, ExpatError, NameError, ...
            raise XacroError(f"{path}: xacro failed: {exc}") from exc
    return document.toprettyxml(indent="  ")


def _as_xacro_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
