"""The deployment catalog: deployment kinds, helm registries, helm tag formats and helm charts
(platform-level; chart discovery fills it from ECR push events), and the ECR event that
chart discovery reads."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tenantry.models.common import Change, Input, Output

# A kind's name goes into helm release names (lower case, `-<deployment name>` after it):
# letters, digits and inner hyphens, at most 53 characters (a release name's limit).
KIND_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,51}[A-Za-z0-9])?$"
KindName = Annotated[str, StringConstraints(pattern=KIND_NAME_PATTERN)]
# A Font Awesome icon's name, e.g. `cube`, `cloud-arrow-up`.
FA_ICON_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
FaIcon = Annotated[str, StringConstraints(max_length=64, pattern=FA_ICON_PATTERN)]

TAG_GROUPS = ("version", "revision", "branch", "commit")
# What JSON Schema can say of a tag format: it names at least one of the groups.
TAG_FORMAT_PATTERN = r"\(\?P<(version|revision|branch|commit)>"
MAX_TAG_FORMAT_LENGTH = 512


# --- deployment kinds ----------------------------------------------------------------------------


class DeploymentKindCreate(Input):
    name: KindName = Field(
        description="Unique regardless of case; deployments of the kind are released as its "
        "name in lower case"
    )


class DeploymentKindPatch(Input):
    name: KindName = Field(description="The new name; unique regardless of case")


class DeploymentKind(Output):
    id: str
    created_at: str
    name: str
    version: int


# --- helm registries -----------------------------------------------------------------------------


class HelmRegistryPatch(Change):
    fa_icon: FaIcon | None = Field(
        None, description="A Font Awesome icon's name for the registry's charts; null clears it"
    )


class HelmRegistry(Output):
    id: str
    created_at: str
    domain_name: str = Field(description="`<account>.dkr.ecr.<region>.amazonaws.com`")
    repo_name: str = Field(description="The ECR repository, charts prefix included")
    kind_id: str = Field(description="The deployment kind of the registry's charts")
    available: bool
    fa_icon: str | None = None
    version: int


# --- helm tag formats ----------------------------------------------------------------------------


class HelmTagFormatCreate(Input):
    pattern: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=MAX_TAG_FORMAT_LENGTH, pattern=TAG_FORMAT_PATTERN
        ),
    ] = Field(
        description="A Python regular expression searched in a chart's tag, with named groups "
        "(`(?P<name>...)`) among `version`, `revision`, `branch` and `commit`, at least one "
        "of them and no other",
        examples=[
            r"^(?P<version>\d+\.\d+\.\d+)-(?P<branch>[a-z0-9-]+)-(?P<commit>[0-9a-f]{7,40})$"
        ],
    )

    @field_validator("pattern")
    @classmethod
    def _compiles_with_known_groups(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        named = set(compiled.groupindex)
        unknown = sorted(named - set(TAG_GROUPS))
        if unknown:
            raise ValueError(
                f"named groups must be among {', '.join(TAG_GROUPS)}; not {', '.join(unknown)}"
            )
        if not named:
            raise ValueError(f"name at least one group: {', '.join(TAG_GROUPS)}")
        return value


class HelmTagFormat(Output):
    id: str
    created_at: str
    pattern: str


# --- helm charts ---------------------------------------------------------------------------------

Extension = dict[str, Any] | list[Any] | None


class HelmChart(Output):
    id: str
    created_at: str = Field(description="When the chart was pushed (the push event's time)")
    helm_registry_id: str
    image_digest: str
    image_tag: str
    available: bool = Field(description="False once the image is deleted from its registry")
    values_ui: Extension = Field(None, description="`platz/values-ui.yaml`, parsed")
    actions_schema: Extension = Field(None, description="`platz/actions.yaml`, parsed")
    features: Extension = Field(None, description="`platz/features.yaml`, parsed")
    resource_types: Extension = Field(None, description="`platz/resources.yaml`, parsed")
    error: str | None = Field(
        None, description="The extension files that could not be read or parsed, and why"
    )
    tag_format_id: str | None = Field(None, description="The tag format that parsed the tag")
    parsed_version: str | None = None
    parsed_revision: str | None = None
    parsed_branch: str | None = None
    parsed_commit: str | None = None


# --- what chart discovery reads ------------------------------------------------------------------


class EcrImageActionDetail(BaseModel):
    """`detail` of an EventBridge `ECR Image Action` event."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    result: str
    repository_name: Annotated[str, StringConstraints(min_length=2, max_length=256)] = Field(
        alias="repository-name"
    )
    image_digest: Annotated[
        str, StringConstraints(pattern=r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
    ] = Field(alias="image-digest", max_length=200)
    action_type: Literal["PUSH", "DELETE"] = Field(alias="action-type")
    image_tag: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(
        None, alias="image-tag"
    )
    artifact_media_type: str | None = Field(None, alias="artifact-media-type")


class EcrImageAction(BaseModel):
    """An EventBridge event as a rule's SQS target receives it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    id: str = ""
    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")
    source: Literal["aws.ecr"]
    account: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    time: str | None = None
    detail: EcrImageActionDetail
