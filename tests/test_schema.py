"""`bpexplain schema`: a JSON Schema that accepts every bundled network and refuses what the loader refuses.

Its enums are checked against the loader's own tables, so that the schema cannot drift from them.
"""

from __future__ import annotations

import json
from importlib import import_module

import pytest
import yaml
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.errors import BpexplainError
from bpexplain.functions import ACTIVATION_NAMES, LOSSES
from bpexplain.layers import LAYER_TYPES
from bpexplain.schema import layer_properties, network_schema, top_properties
from bpexplain.spec import TOP_KEYS, bundled_names, parse_network, read_network_text

jsonschema = pytest.importorskip("jsonschema", reason="the schema tests need jsonschema (in the test extra)")


@pytest.fixture(scope="module")
def validator():  # type: ignore[no-untyped-def]
    schema = network_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_command_prints_the_schema_as_json() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == network_schema()
    assert network_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_network_is_valid(validator, name: str) -> None:  # type: ignore[no-untyped-def]
    text, _ = read_network_text(name)
    errors = list(validator.iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]


def test_the_enums_are_the_loaders_tables() -> None:
    schema = network_schema()
    assert schema["properties"]["loss"]["enum"] == list(LOSSES)
    layer = schema["$defs"]["layer"]["properties"]
    assert layer["type"]["enum"] == list(LAYER_TYPES)
    assert layer["activation"]["anyOf"][0]["enum"] == list(ACTIVATION_NAMES)


def test_every_key_the_loader_reads_is_described() -> None:
    assert set(TOP_KEYS) <= set(top_properties())
    described = layer_properties()
    for type_name, target in LAYER_TYPES.items():
        keys = import_module(target.split(":")[0]).KEYS
        missing = [k for k in keys if k not in described]
        assert not missing, f"{type_name}: describe {missing} in bpexplain/schema.py"
    for key, prop in {**top_properties(), **described}.items():
        assert prop.get("description"), key


LECTURE = yaml.safe_load(read_network_text("lecture")[0])
CNN = yaml.safe_load(read_network_text("homework-cnn")[0])


def changed(doc: dict, path: tuple, value: object) -> dict:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


BAD = {
    "unknown top key": changed(LECTURE, ("lerning_rate",), 0.5),
    "unknown layer key": changed(LECTURE, ("layers", 0, "wieght"), [[1, 2]]),
    "unknown activation": changed(LECTURE, ("layers", 0, "activation"), "sigmod"),
    "unknown loss": changed(LECTURE, ("loss",), "mae"),
    "unknown layer type": changed(LECTURE, ("layers", 0, "type"), "dense2d"),
    "learning rate 0": changed(LECTURE, ("learning_rate",), 0),
    "learning rate text": changed(LECTURE, ("learning_rate",), "fast"),
    "no layers": changed(LECTURE, ("layers",), []),
    "no inputs": changed(LECTURE, ("inputs",), KeyError),
    "inputs as text": changed(LECTURE, ("inputs",), "x1, x2"),
    "a weight of text": changed(LECTURE, ("layers", 0, "weight"), "heavy"),
    "a kernel key in a dense layer": changed(LECTURE, ("layers", 0, "kernel"), [[1]]),
    "units in a conv layer": changed(CNN, ("layers", 0, "units"), 2),
    "a pool without size": changed(CNN, ("layers", 2, "size"), KeyError),
    "a flip that is not true or false": changed(CNN, ("layers", 0, "flip"), "yes please"),
    "a sample without input": changed(LECTURE, ("data", 0, "input"), KeyError),
    "a sample key misspelt": changed(LECTURE, ("data", 0, "targets"), [1]),
    "a slope key misspelt": changed(LECTURE, ("layers", 0, "activation"), {"name": "leaky_relu", "slop": 0.1}),
    "init with an unknown key": changed(LECTURE, ("init",), {"seed": 1, "round": 2}),
    "a dense layer with neither units nor weight": {"inputs": 2, "layers": [{"name": "h"}]},
}


@pytest.mark.parametrize("what", BAD)
def test_a_bad_network_is_refused_by_the_schema_and_by_the_loader(validator, what: str) -> None:  # type: ignore[no-untyped-def]
    doc = BAD[what]
    assert list(validator.iter_errors(doc)), f"the schema accepts {what}"
    with pytest.raises(BpexplainError):
        parse_network(json.dumps(doc), "bad.yaml")


def test_the_files_new_writes_are_valid(validator) -> None:  # type: ignore[no-untyped-def]
    from bpexplain.scaffold import like, template

    assert not list(validator.iter_errors(yaml.safe_load(template("mine"))))
    for name in bundled_names():
        assert not list(validator.iter_errors(yaml.safe_load(like("mine", name)))), name
