"""Reference check for CloudFormation / SAM templates: every name a template uses must exist.

cfn-lint validates many places but not all of them: a `!Ref` to a missing resource inside a
`AWS::Serverless::Function`'s `Environment` passes cfn-lint 1.58 and fails only at deploy time.
This checker walks the WHOLE template (every section, every property, every nesting level), so
no place is skipped, and resolves each reference it finds:

- `Ref` / `!Ref` NAME: a Parameter, a Resource or a pseudo parameter (`AWS::Region`, ...);
- `Fn::GetAtt` / `!GetAtt` RESOURCE.ATTR: a Resource;
- `${NAME}` and `${RESOURCE.ATTR}` inside `Fn::Sub` / `!Sub` (`${!Literal}` is not a
  reference; names defined by the `!Sub` variable map are local): like `Ref` and `GetAtt`;
- `Fn::If` / `!If` first argument, `Condition` / `!Condition` (inside conditions and as the
  `Condition` attribute of a resource or output): a Condition;
- `DependsOn`: a Resource; `Fn::FindInMap` / `!FindInMap` map name: a Mapping.

Intrinsics whose shape is wrong (`!Ref` of a list, `!If` with two arguments...) are reported
too. Use `load_template` to parse YAML with the short-form tags (`!Ref`, `!Sub`, `!If`, ...),
then `check_references`; or `python -m tests.sam.refcheck template.yaml ...` from the shell.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "PSEUDO_PARAMETERS",
    "CfnLoader",
    "Problem",
    "Reference",
    "check_file",
    "check_references",
    "collect_references",
    "load_template",
    "main",
]

Template = dict[str, Any]
PathItem = str | int

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NoValue",
        "AWS::NotificationARNs",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

# Short-form tags and the long form each stands for. `!Ref` and `!Condition` keep their names;
# every other `!X` is `Fn::X`.
_SHORT_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
)

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that turns CloudFormation short-form tags into their long form.

    `!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Sub`,
    `!If` and the others become `{"Fn::<Name>": <value>}` with the value read as a scalar,
    sequence or mapping, whichever the tag is applied to.
    """


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node.tag}", node.start_mark
    )


def _make_constructor(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _node_value(loader, node)
        if key == "Fn::GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {key: value}

    return construct


CfnLoader.add_constructor("!Ref", _make_constructor("Ref"))
CfnLoader.add_constructor("!Condition", _make_constructor("Condition"))
for _tag in _SHORT_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _make_constructor(f"Fn::{_tag}"))


def load_template(source: str | Path) -> Template:
    """Parse a template from a `Path`, or from YAML/JSON text given as `str`, with short tags."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    # CfnLoader derives from SafeLoader: no arbitrary Python objects.
    document = yaml.load(text, Loader=CfnLoader)
    if not isinstance(document, dict):
        raise ValueError("a template must be a mapping at its top level")
    return document


@dataclass(frozen=True)
class Reference:
    """One use of a name: what kind of use, the name, and where in the template it sits."""

    kind: str  # "Ref", "GetAtt", "Sub", "Condition", "DependsOn" or "FindInMap"
    name: str
    attribute: str | None
    path: tuple[PathItem, ...]

    @property
    def where(self) -> str:
        """The location as a dotted path, list indexes in brackets."""
        out = ""
        for item in self.path:
            out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else item)
        return out or "<template>"

    def __str__(self) -> str:
        target = f"{self.name}.{self.attribute}" if self.attribute else self.name
        return f"{self.kind} {target} at {self.where}"


@dataclass(frozen=True)
class Problem:
    """A reference that names nothing it may name, or an intrinsic of the wrong shape."""

    path: tuple[PathItem, ...]
    message: str

    @property
    def where(self) -> str:
        """The location as a dotted path, list indexes in brackets."""
        return Reference("", "", None, self.path).where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _walk(
    node: Any,
    path: tuple[PathItem, ...],
    refs: list[Reference],
    problems: list[Problem],
    local_names: frozenset[str],
) -> None:
    """Collect references below `node`; `local_names` are `!Sub` map variables in scope."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _walk(item, (*path, index), refs, problems, local_names)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        ((key, value),) = node.items()
        if _intrinsic(key, value, path, refs, problems, local_names):
            return
    for key, value in node.items():
        here = (*path, str(key))
        if key == "Condition" and isinstance(value, str):
            # The Condition attribute of a resource or output, or `!Condition` in a condition.
            refs.append(Reference("Condition", value, None, here))
        elif key == "DependsOn" and len(path) == 2 and path[0] == "Resources":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                problems.append(Problem(here, "DependsOn must be a name or a list of names"))
                continue
            refs.extend(Reference("DependsOn", name, None, here) for name in names)
        else:
            _walk(value, here, refs, problems, local_names)


def _intrinsic(
    key: str,
    value: Any,
    path: tuple[PathItem, ...],
    refs: list[Reference],
    problems: list[Problem],
    local_names: frozenset[str],
) -> bool:
    """Handle a one-key mapping that is an intrinsic function; False if it is not one."""
    here = (*path, key)
    if key == "Ref":
        if isinstance(value, str):
            refs.append(Reference("Ref", value, None, here))
        else:
            problems.append(Problem(here, f"Ref needs a name, not {type(value).__name__}"))
        return True
    if key == "Fn::GetAtt":
        if isinstance(value, str):
            value = value.split(".", 1)
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0]:
            if isinstance(value[1], str):
                refs.append(Reference("GetAtt", value[0], value[1], here))
            else:  # the attribute may itself be computed (`!Ref` of a parameter)
                refs.append(Reference("GetAtt", value[0], None, here))
                _walk(value[1], (*here, 1), refs, problems, local_names)
        else:
            problems.append(Problem(here, "Fn::GetAtt needs [Resource, Attribute]"))
        return True
    if key == "Fn::Sub":
        _sub(value, here, refs, problems, local_names)
        return True
    if key == "Fn::If":
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            refs.append(Reference("Condition", value[0], None, (*here, 0)))
            for index in (1, 2):
                _walk(value[index], (*here, index), refs, problems, local_names)
        else:
            problems.append(Problem(here, "Fn::If needs [Condition, ValueIfTrue, ValueIfFalse]"))
        return True
    if key == "Fn::FindInMap":
        if isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str):
            refs.append(Reference("FindInMap", value[0], None, (*here, 0)))
            for index in range(1, len(value)):
                _walk(value[index], (*here, index), refs, problems, local_names)
        elif isinstance(value, list) and len(value) in (3, 4):
            _walk(value, here, refs, problems, local_names)
        else:
            problems.append(Problem(here, "Fn::FindInMap needs [Map, TopKey, SecondKey]"))
        return True
    return False


def _sub(
    value: Any,
    here: tuple[PathItem, ...],
    refs: list[Reference],
    problems: list[Problem],
    local_names: frozenset[str],
) -> None:
    """References of an `Fn::Sub`: its `${...}` variables and the values of its variable map."""
    if isinstance(value, str):
        text, variables = value, {}
    elif (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
    ):
        text, variables = value[0], value[1]
        for name, expression in variables.items():
            _walk(expression, (*here, 1, str(name)), refs, problems, local_names)
    else:
        problems.append(Problem(here, "Fn::Sub needs a string or [String, {Variables}]"))
        return
    scope = local_names | {str(name) for name in variables}
    for match in _SUB_VARIABLE.finditer(text):
        expression = match.group(1).strip()
        if expression.startswith("!"):
            continue  # ${!Literal} writes "${Literal}"
        if not expression:
            problems.append(Problem(here, "empty ${} in Fn::Sub"))
            continue
        if expression in scope:
            continue
        if "." in expression and not expression.startswith("AWS::"):
            resource, _, attribute = expression.partition(".")
            refs.append(Reference("Sub", resource, attribute, here))
        else:
            refs.append(Reference("Sub", expression, None, here))


def collect_references(template: Template) -> tuple[list[Reference], list[Problem]]:
    """Every reference in the template, and the intrinsics too malformed to read."""
    refs: list[Reference] = []
    problems: list[Problem] = []
    _walk(template, (), refs, problems, frozenset())
    return refs, problems


def _section(template: Template, name: str) -> set[str]:
    section = template.get(name) or {}
    return {str(key) for key in section} if isinstance(section, dict) else set()


def check_references(template: Template, *, extra_resources: Iterable[str] = ()) -> list[Problem]:
    """Return every reference that names nothing it may name (empty list: all resolve).

    `extra_resources` are logical ids that exist without being in `Resources` (for instance
    resources a transform generates, like SAM's `<Function>Role` when no role is given).
    """
    parameters = _section(template, "Parameters")
    resources = _section(template, "Resources") | set(extra_resources)
    conditions = _section(template, "Conditions")
    mappings = _section(template, "Mappings")
    refs, problems = collect_references(template)
    for ref in refs:
        message = _resolve(ref, parameters, resources, conditions, mappings)
        if message:
            problems.append(Problem(ref.path, message))
    return problems


def _resolve(
    ref: Reference,
    parameters: set[str],
    resources: set[str],
    conditions: set[str],
    mappings: set[str],
) -> str | None:
    """Why `ref` does not resolve, or None when it does."""
    name = ref.name
    if ref.kind in ("Ref", "Sub") and ref.attribute is None:
        if name in parameters or name in resources or name in PSEUDO_PARAMETERS:
            return None
        if name in conditions:
            return f"{ref.kind} {name} names a Condition; use it in Fn::If or Condition"
        return f"{ref.kind} {name}: no Parameter, Resource or pseudo parameter of that name"
    if ref.kind in ("GetAtt", "Sub", "DependsOn"):
        if name in resources:
            return None
        target = f"{name}.{ref.attribute}" if ref.attribute else name
        if name in parameters:
            return f"{ref.kind} {target}: {name} is a Parameter, not a Resource"
        return f"{ref.kind} {target}: no Resource named {name}"
    if ref.kind == "Condition":
        if name in conditions:
            return None
        return f"Condition {name}: no Condition of that name"
    if ref.kind == "FindInMap":
        if name in mappings:
            return None
        return f"FindInMap {name}: no Mapping of that name"
    return f"unknown reference kind {ref.kind}"


def check_file(path: str | Path, *, extra_resources: Iterable[str] = ()) -> list[Problem]:
    """Load a template file and check its references."""
    return check_references(load_template(Path(path)), extra_resources=extra_resources)


def _iter_reports(paths: Sequence[str]) -> Iterator[tuple[str, list[Problem]]]:
    for path in paths:
        yield path, check_file(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Check each template named on the command line; exit 1 if any reference is broken."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m tests.sam.refcheck TEMPLATE...", file=sys.stderr)
        return 2
    failed = False
    for path, problems in _iter_reports(paths):
        for problem in problems:
            print(f"{path}: {problem}")
        failed = failed or bool(problems)
        if not problems:
            print(f"{path}: every reference resolves")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
