"""/api/campaigns/ and /api/outreach-events/: campaigns, their controls, previews and outreach."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.campaign_schemas import (
    CampaignCreateSchema,
    CampaignListQuery,
    CampaignPatchSchema,
    CampaignPreviewSchema,
    CampaignScheduleSchema,
    CampaignSchema,
    CampaignUpdateSchema,
    OutreachListQuery,
    OutreachSchema,
    OutreachStatusQuery,
)
from crm.http.context import actor, crm, idempotent_id, restaurant_of, scope
from crm.http.pagination import envelope
from crm.http.responses import done, written
from crm.http.schemas import page_of
from crm.write_model.errors import InvalidInput
from crm.write_model.vocabulary import CampaignAction

blp = Blueprint("campaigns", __name__, url_prefix="/api/campaigns", description="Campaigns and their controls")
outreach_blp = Blueprint(
    "outreach", __name__, url_prefix="/api/outreach-events", description="The audit trail of every outreach"
)


def _campaign_or_404(campaign_id: UUID) -> dict:
    return crm().campaign_queries.campaign(campaign_id, scope()) or abort(404, message="Campaign not found.")


@blp.route("/")
class Campaigns(MethodView):
    @blp.arguments(CampaignListQuery, location="query")
    @blp.response(200, page_of(CampaignSchema))
    def get(self, args):
        """List campaigns, newest first; filter by restaurant_id"""
        return envelope(
            crm().campaign_queries.campaigns(scope(), args["restaurant_id"], args["page"], args["page_size"])
        )

    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    def post(self, body):
        """Create a draft campaign (honours Idempotency-Key)"""
        restaurant_id = restaurant_of(body)
        recorded = crm().application.create_campaign(
            restaurant_id, body, actor=actor(), scope=scope(), campaign_id=idempotent_id("campaign")
        )
        return written(recorded, lambda id: crm().campaign_queries.campaign(id, scope()))


@blp.route("/<uuid:campaign_id>/")
class CampaignDetail(MethodView):
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id: UUID):
        """Read a campaign with its outreach counts"""
        return _campaign_or_404(campaign_id)

    @blp.arguments(CampaignUpdateSchema)
    @blp.response(200, CampaignSchema)
    def put(self, body, campaign_id: UUID):
        """Replace a draft campaign's settings"""
        return self._change(body, campaign_id)

    @blp.arguments(CampaignPatchSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, body, campaign_id: UUID):
        """Change some of a draft campaign's settings"""
        return self._change(body, campaign_id)

    @blp.response(204)
    def delete(self, campaign_id: UUID):
        """Delete a draft campaign"""
        return done(crm().application.delete_campaign(campaign_id, actor=actor(), scope=scope()))

    @staticmethod
    def _change(body: dict, campaign_id: UUID):
        recorded = crm().application.update_campaign(campaign_id, body, actor=actor(), scope=scope())
        return written(recorded, lambda id: crm().campaign_queries.campaign(id, scope()), 200)


def _control(action: CampaignAction, status: int, summary: str):
    def view(campaign_id: UUID):
        recorded = crm().application.control_campaign(campaign_id, action, actor=actor(), scope=scope())
        return written(recorded, lambda id: crm().campaign_queries.campaign(id, scope()), status)

    view.__name__ = str(action).replace("-", "_")
    view.__doc__ = summary
    return view


for _action, _status, _summary in (
    (CampaignAction.RUN, 202, "Start a draft or scheduled campaign now: workers resolve the audience and send (202)"),
    (CampaignAction.UNSCHEDULE, 200, "Take a scheduled campaign back to draft: it will not start by itself"),
    (CampaignAction.PAUSE, 200, "Pause a running campaign before its next message"),
    (CampaignAction.RESUME, 200, "Resume a paused campaign where it stopped"),
    (CampaignAction.CANCEL, 200, "Cancel a draft, scheduled, running or paused campaign"),
    (
        CampaignAction.RETRY_FAILED,
        202,
        "Queue a completed campaign's failed outreach again, once: it runs until they are sent or fail again (202)",
    ),
):
    blp.route(f"/<uuid:campaign_id>/{_action}/", methods=["POST"])(
        blp.response(_status, CampaignSchema)(_control(_action, _status, _summary))
    )


@blp.route("/<uuid:campaign_id>/schedule/")
class CampaignSchedule(MethodView):
    @blp.arguments(CampaignScheduleSchema)
    @blp.response(200, CampaignSchema)
    def post(self, body, campaign_id: UUID):
        """Schedule a draft campaign: it starts by itself at scheduled_for (within about a second), or recurs"""
        recorded = crm().application.schedule_campaign(
            campaign_id,
            body.get("scheduled_for"),
            actor=actor(),
            scope=scope(),
            recurrence=body.get("recurrence"),
            recurrence_cooldown_days=body.get("recurrence_cooldown_days"),
        )
        return written(recorded, lambda id: crm().campaign_queries.campaign(id, scope()), 200)


@blp.route("/<uuid:campaign_id>/preview/")
class CampaignPreview(MethodView):
    @blp.response(200, CampaignPreviewSchema)
    def get(self, campaign_id: UUID):
        """The audience size now, and the subject and message rendered for up to 5 of them"""
        campaign = _campaign_or_404(campaign_id)
        return crm().campaign_queries.preview(campaign, campaign["restaurant"], crm().clock())


@blp.route("/preview/")
class UnsavedCampaignPreview(MethodView):
    @blp.arguments(CampaignCreateSchema)
    @blp.response(200, CampaignPreviewSchema)
    def post(self, body):
        """Preview a campaign that is not saved: same body as create"""
        restaurant_id = restaurant_of(body)
        if crm().queries.restaurant(restaurant_id, scope()) is None:
            raise InvalidInput("restaurant", "no such restaurant")
        return crm().campaign_queries.preview(body, restaurant_id, crm().clock())


@blp.route("/<uuid:campaign_id>/events/")
class CampaignOutreach(MethodView):
    @blp.arguments(OutreachStatusQuery, location="query")
    @blp.response(200, page_of(OutreachSchema))
    def get(self, args, campaign_id: UUID):
        """The campaign's outreach records, newest first; filter by status"""
        page = crm().campaign_queries.campaign_outreach(
            campaign_id, scope(), args["status"], args["page"], args["page_size"], args["after"]
        )
        return envelope(page) if page is not None else abort(404, message="Campaign not found.")


@outreach_blp.route("/")
class OutreachList(MethodView):
    @outreach_blp.arguments(OutreachListQuery, location="query")
    @outreach_blp.response(200, page_of(OutreachSchema))
    def get(self, args):
        """Every outreach attempt, newest first; filter by campaign_id and status"""
        return envelope(
            crm().campaign_queries.outreach_list(
                scope(), args["campaign_id"], args["status"], args["page"], args["page_size"], args["after"]
            )
        )


@outreach_blp.route("/<uuid:outreach_id>/")
class OutreachDetail(MethodView):
    @outreach_blp.response(200, OutreachSchema)
    def get(self, outreach_id: UUID):
        """Read one outreach record"""
        return crm().campaign_queries.outreach(outreach_id, scope()) or abort(404, message="Outreach not found.")
