"""Apply automations.yaml to a Prefect server: create each automation, or update the one of the same name."""

from __future__ import annotations

from pathlib import Path

import yaml

from endorse.settings import PROJECT_ROOT

AUTOMATIONS_FILE = PROJECT_ROOT / "automations.yaml"


class AutomationsError(ValueError):
    """The file or the server is not as the automations need: nothing is applied."""


def load_automations(path: Path, deployment_ids: dict[str, str]) -> list:
    """The file's automations as Prefect models, with each ``deployment:`` name replaced by its id.
    Everything is checked before anything is applied; an error names the file and the automation."""
    from prefect.events.schemas.automations import AutomationCore
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AutomationsError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("automations"), list):
        raise AutomationsError(f"{path}: expected a list under 'automations'")
    out = []
    for i, raw in enumerate(data["automations"]):
        where = f"{path}: automations[{i}] {raw.get('name', '') if isinstance(raw, dict) else ''}".rstrip()
        try:
            actions = [_with_deployment_id(a, deployment_ids) for a in raw.get("actions", [])]
            out.append(AutomationCore.model_validate({**raw, "actions": actions}))
        except (ValidationError, AttributeError, TypeError) as exc:
            raise AutomationsError(f"{where}: {exc}") from None
        except KeyError as exc:
            raise AutomationsError(f"{where}: deployment {exc.args[0]!r} is not on the Prefect server "
                                   f"(deploy first: prefect deploy --all, or endorse serve)") from None
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise AutomationsError(f"{path}: two automations share a name (the name is how they are updated)")
    return out


def _with_deployment_id(action: dict, deployment_ids: dict[str, str]) -> dict:
    if "deployment" not in action:
        return action
    rest = {k: v for k, v in action.items() if k != "deployment"}
    return {**rest, "source": "selected", "deployment_id": deployment_ids[action["deployment"]]}


def _deployment_names(path: Path) -> set[str]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {a["deployment"] for auto in data.get("automations") or [] if isinstance(auto, dict)
            for a in auto.get("actions") or [] if isinstance(a, dict) and "deployment" in a}


def apply_automations(api_url: str, path: Path = AUTOMATIONS_FILE) -> list[tuple[str, str]]:
    """Create or update (by name) every automation of the file; returns (name, created|updated|unchanged)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    done = []
    with SyncPrefectClient(api_url, auth_string=PREFECT_API_AUTH_STRING.value(),
                           api_key=PREFECT_API_KEY.value()) as client:
        ids = {}
        for name in _deployment_names(path):
            try:
                ids[name] = str(client.read_deployment_by_name(name).id)
            except ObjectNotFound:
                pass  # reported by load_automations, naming the automation that needs it
        for wanted in load_automations(path, ids):
            same_name = client.read_automations_by_name(wanted.name)
            if not same_name:
                client.create_automation(wanted)
                done.append((wanted.name, "created"))
                continue
            first, *extra = same_name
            for dup in extra:  # an earlier hand-made copy: the name must lead to one automation
                client.delete_automation(dup.id)
            if _comparable(first) == _comparable(wanted) and not extra:
                done.append((wanted.name, "unchanged"))
            else:
                client.update_automation(first.id, wanted)
                done.append((wanted.name, "updated"))
    return done


def _comparable(automation) -> dict:
    from prefect.events.schemas.automations import AutomationCore

    core = AutomationCore.model_validate(automation.model_dump(exclude={"id"}))
    return _sorted_sets(core.model_dump(mode="json", exclude={"owner_resource"}))


def _sorted_sets(value):
    # Prefect keeps `expect`, `after` and `for_each` as sets: their JSON order changes from process to process.
    if isinstance(value, dict):
        return {k: _sorted_sets(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_sorted_sets(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value
