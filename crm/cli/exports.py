"""`crm export`: the API's CSV exports on the command line, for every restaurant (as an admin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from uuid import UUID

import click

from crm.cli import support
from crm.write_model.vocabulary import OutreachStatus

BOM_HELP = "Start with a UTF-8 byte order mark (for spreadsheets)."
OUTPUT_HELP = "Write to FILE (default: standard output)."


@click.group()
def export() -> None:
    """Export customers or a campaign's outreach records as CSV (UTF-8), streamed."""


@export.command("customers")
@click.option("--restaurant", "restaurant_id", type=click.UUID, help="Only this restaurant's customers.")
@click.option("--segment", "segment_id", type=click.UUID, help="Only the customers a saved segment matches now.")
@click.option("--search", help="Only customers whose email or name holds this text (any case).")
@click.option("--bom", is_flag=True, help=BOM_HELP)
@click.option("-o", "--output", type=click.File("wb"), default="-", help=OUTPUT_HELP)
def export_customers(
    restaurant_id: UUID | None, segment_id: UUID | None, search: str | None, bom: bool, output: BinaryIO
) -> None:
    """Customers not deleted, newest first, as GET /api/customers/export.csv writes them."""
    container = support.container()
    if restaurant_id is not None and container.queries.restaurant(restaurant_id, None) is None:
        raise click.BadParameter(f"no restaurant {restaurant_id}", param_hint="--restaurant")
    found = container.export_queries.customers(None, restaurant_id, search, segment_id, container.clock())
    if found is None:
        raise click.BadParameter(f"no segment {segment_id}", param_hint="--segment")
    _write(found, output, bom, "customers")


@export.command("campaign-events")
@click.argument("campaign_id", type=click.UUID)
@click.option("--status", type=click.Choice([status.value for status in OutreachStatus]), help="Only records in it.")
@click.option("--bom", is_flag=True, help=BOM_HELP)
@click.option("-o", "--output", type=click.File("wb"), default="-", help=OUTPUT_HELP)
def export_campaign_events(campaign_id: UUID, status: str | None, bom: bool, output: BinaryIO) -> None:
    """A campaign's outreach records (one per recipient), as its events/export.csv writes them."""
    found = support.container().export_queries.campaign_outreach(campaign_id, None, status)
    if found is None:
        raise click.ClickException(f"no campaign {campaign_id}")
    _write(found, output, bom, "outreach records")


def _write(found, output: BinaryIO, bom: bool, what: str) -> None:
    from crm import csv_format

    counted = [0]

    def rows() -> Iterator[tuple]:
        for row in found.rows:
            counted[0] += 1
            yield row

    for chunk in csv_format.chunks(found.columns, rows(), bom=bom):
        output.write(chunk)
    output.flush()
    click.echo(f"exported {counted[0]} {what}", err=True)
