"""Experiment routes (admin; editors read): create, list, report, start, stop."""

from __future__ import annotations

from flask import Blueprint

from app.core.pagination import ID_CURSOR, PageRequest, PageResult
from app.core.routing import JsonBody, current_actor, endpoint
from app.experiments import services as experiments
from app.experiments.models import Experiment
from app.experiments.schemas import ExperimentIn, ExperimentOut, ExperimentPage, ReportOut
from app.experiments.serving import blend_weights

bp = Blueprint("experiments", __name__, url_prefix="/api/v1")


def experiment_view(experiment: Experiment) -> JsonBody:
    return {
        "id": experiment.id,
        "name": experiment.name,
        "description": experiment.description,
        "feed": experiment.feed,
        "status": experiment.status,
        "traffic_share": experiment.traffic_share,
        "started_at": experiment.started_at,
        "stopped_at": experiment.stopped_at,
        "created_by": experiment.created_by_id,
        "created_at": experiment.created_at,
        "arms": [
            {
                "id": arm.id,
                "key": arm.key,
                "share": round(arm.share, 6),
                "control": arm.is_control,
                "weights": arm.weights,
                "blend": blend_weights(experiment.feed, arm.weights),
            }
            for arm in experiment.arms
        ],
    }


@endpoint(
    bp,
    "/admin/experiments",
    "POST",
    summary="Create a feed experiment (a draft) with its arms of blend weights (admin)",
    body=ExperimentIn,
    response=ExperimentOut,
    status=201,
    auth="required",
    role="admin",
    errors=[400, 401, 403, 415, 422],
)
def create_experiment(body: ExperimentIn) -> JsonBody:
    return experiment_view(experiments.create_experiment(current_actor(), body))


@endpoint(
    bp,
    "/admin/experiments",
    "GET",
    summary="Feed experiments, newest first (editor)",
    response=ExperimentPage,
    auth="required",
    role="editor",
    errors=[400, 401, 403],
    paginated=ID_CURSOR,
)
def list_experiments(page: PageRequest) -> PageResult[JsonBody]:
    return experiments.list_experiments(current_actor(), page).map(experiment_view)


@endpoint(
    bp,
    "/admin/experiments/<int:experiment_id>",
    "GET",
    summary="An experiment and its report: engagement per impression per arm, with 95% "
    "intervals, and each arm's difference from the control (editor)",
    response=ReportOut,
    auth="required",
    role="editor",
    errors=[401, 403, 404],
)
def experiment_report(experiment_id: int) -> JsonBody:
    report = experiments.experiment_report(current_actor(), experiment_id)
    return {**experiment_view(report.pop("experiment")), **report}


@endpoint(
    bp,
    "/admin/experiments/<int:experiment_id>/start",
    "POST",
    summary="Start a draft experiment; one runs per feed at a time (admin)",
    response=ExperimentOut,
    auth="required",
    role="admin",
    errors=[401, 403, 404, 409],
)
def start_experiment(experiment_id: int) -> JsonBody:
    return experiment_view(experiments.start_experiment(current_actor(), experiment_id))


@endpoint(
    bp,
    "/admin/experiments/<int:experiment_id>/stop",
    "POST",
    summary="Stop a running experiment: everyone gets the default blend again (admin)",
    response=ExperimentOut,
    auth="required",
    role="admin",
    errors=[401, 403, 404, 409],
)
def stop_experiment(experiment_id: int) -> JsonBody:
    return experiment_view(experiments.stop_experiment(current_actor(), experiment_id))
