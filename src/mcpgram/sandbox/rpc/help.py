"""``help.*``: configuration a client asks for right after connecting."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..router import Ctx, Router

router = Router()


@router.method(functions.help.GetConfigRequest, auth=False)
def get_config(ctx: Ctx, _req: Any) -> Any:
    server = ctx.server
    now = ctx.world.now()
    option = types.DcOption(id=server.dc_id, ip_address=server.host, port=server.port, static=True)
    # The sandbox is a single DC. Every DC id the client may ask about resolves to it, so a
    # client that follows a *_MIGRATE error or downloads "from another DC" still lands here.
    options = [option] + [
        types.DcOption(id=dc, ip_address=server.host, port=server.port)
        for dc in range(1, 6)
        if dc != server.dc_id
    ]
    return types.Config(
        date=now,
        expires=now + 3600,
        test_mode=True,
        this_dc=server.dc_id,
        dc_options=options,
        dc_txt_domain_name="sandbox.invalid",
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        online_update_period_ms=210000,
        offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000,
        online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500,
        push_chat_period_ms=60000,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=172800,
        revoke_pm_time_limit=2147483647,
        rating_e_decay=2419200,
        stickers_recent_limit=200,
        channels_read_media_period=604800,
        call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000,
        call_connect_timeout_ms=30000,
        call_packet_timeout_ms=10000,
        me_url_prefix="https://t.me/",
        caption_length_max=1024,
        message_length_max=4096,
        webfile_dc_id=4,
        revoke_pm_inbox=True,
    )


@router.method(functions.help.GetNearestDcRequest, auth=False)
def get_nearest_dc(ctx: Ctx, _req: Any) -> Any:
    return types.NearestDc(country="ZZ", this_dc=ctx.server.dc_id, nearest_dc=ctx.server.dc_id)
