"""Static checks of a launch file, for the test that walks every file in `launch/`.

A launch file can be wrong in ways that only show on a robot: a typo in an executable, a
node of a package we never declared as a dependency, a parameter file that moved. This
interprets the file with its default arguments (and, where cheap, each alternative value of
arguments that have `choices` or a true/false default) and checks what it references.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from functools import cache
from importlib import metadata
from pathlib import Path

from vla_ros.assets import share_dir
from vla_ros.runtime.launch import (
    OWN_PACKAGE,
    UNRESOLVED_PREFIX,
    LaunchArgument,
    LaunchError,
    LaunchPlan,
    list_launch_arguments,
    load_launch,
)
from vla_ros.runtime.param_file import ParameterFileError, display_path, load_param_file

MAX_VARIANTS = 32
# "panda | so101" or "none | usb_cam | ... (comment)": a description listing the choices
_CHOICES_IN_DESCRIPTION = re.compile(r"^\s*([\w./-]+(?:\s*\|\s*[\w./-]+)+)")


@cache
def own_executables() -> frozenset[str]:
    """Console scripts of vla_ros: setup.py's NODES list, else the installed entry points."""
    setup = share_dir(OWN_PACKAGE) / "setup.py"
    if setup.is_file():
        for node in ast.walk(ast.parse(setup.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "NODES" for t in node.targets):
                return frozenset(ast.literal_eval(node.value)) | {"vla-ros"}
    scripts = {ep.name for ep in metadata.entry_points(group="console_scripts")
               if ep.dist is not None and ep.dist.name.replace("-", "_") == OWN_PACKAGE}
    return frozenset(scripts)


@cache
def declared_dependencies() -> frozenset[str]:
    """Packages package.xml lets us run: exec_depend, depend and run_depend entries."""
    package_xml = share_dir(OWN_PACKAGE) / "package.xml"
    root = ET.parse(package_xml).getroot()
    return frozenset((el.text or "").strip()
                     for tag in ("exec_depend", "depend", "run_depend")
                     for el in root.iter(tag))


def argument_variants(arguments: list[LaunchArgument]) -> list[tuple[str, dict[str, str]]]:
    """(label, arguments): defaults first, then one argument at a time set to each of its
    other cheap values (non-default `choices`, the flip of a true/false default)."""
    base: dict[str, str] = {}
    for argument in arguments:
        if argument.default is None:
            base[argument.name] = argument.choices[0] if argument.choices else ""
    variants = [("", base)]
    for argument in arguments:
        alternatives: list[str] = []
        choices = argument.choices or choices_in_description(argument.description)
        if choices:
            alternatives = [c for c in choices if c != argument.default]
        elif argument.default is not None and argument.default.lower() in ("true", "false"):
            alternatives = ["false" if argument.default.lower() == "true" else "true"]
        for value in alternatives:
            if "$(" not in value and len(variants) < MAX_VARIANTS:
                variants.append((f"{argument.name}:={value}", {**base, argument.name: value}))
    return variants


def choices_in_description(description: str) -> list[str] | None:
    """`description="panda | so101"` names the values an argument takes without `choices`."""
    match = _CHOICES_IN_DESCRIPTION.match(description or "")
    return [c.strip() for c in match.group(1).split("|")] if match else None


def validate_launch_file(path: str | Path,
                         known_executables: dict[str, set[str]] | None = None) -> list[str]:
    """Problems found in `path` (empty list = fine)."""
    path = Path(path)
    try:
        arguments = list_launch_arguments(path)
    except LaunchError as err:
        return [str(err)]
    problems: list[str] = []
    seen: set[str] = set()
    for label, variant in argument_variants(arguments):
        prefix = f"[with {label}] " if label else ""
        try:
            found = check_plan(load_launch(path, variant, allow_external=True),
                               known_executables)
        except LaunchError as err:
            found = [str(err)]
        for problem in found:
            if problem not in seen:  # reported once, under the first variant that shows it
                seen.add(problem)
                problems.append(prefix + problem)
    return problems


def check_plan(plan: LaunchPlan, known_executables: dict[str, set[str]] | None = None
               ) -> list[str]:
    """Executables, dependencies and referenced files of an interpreted plan."""
    known = dict(known_executables or {})
    known.setdefault(OWN_PACKAGE, set(own_executables()))
    problems = [w for w in plan.warnings if "is not declared by the file" not in w]
    dependencies = declared_dependencies()
    for package, where in plan.external_packages.items():
        if package not in dependencies:
            problems.append(f"{where}: $(find-pkg-share {package}): package '{package}' "
                            "(not installed here) is not an <exec_depend> of package.xml")
    for include in plan.external_includes:
        if include.package is not None and include.package not in dependencies:
            problems.append(f"{include.source}: <include> of package '{include.package}', "
                            "which is not an <exec_depend> of package.xml")
    for spec in plan.nodes:
        where = f"{spec.source}: <node pkg=\"{spec.package}\" exec=\"{spec.executable}\">"
        executables = known.get(spec.package)
        if executables is not None and spec.executable not in executables:
            problems.append(f"{where}: package {spec.package} has no executable "
                            f"'{spec.executable}' (has: {', '.join(sorted(executables))})")
        if spec.package != OWN_PACKAGE and spec.package not in dependencies:
            problems.append(f"{where}: package '{spec.package}' is not an <exec_depend> of "
                            "package.xml")
        for source in spec.parameters:
            if isinstance(source, dict) or str(source).startswith(UNRESOLVED_PREFIX):
                continue
            if not Path(source).is_file():
                problems.append(f"{where}: parameter file '{display_path(source)}' does "
                                "not exist")
                continue
            try:
                load_param_file(source)
            except ParameterFileError as err:
                problems.append(f"{where}: {err}")
    return problems
