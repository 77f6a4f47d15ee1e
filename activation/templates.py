"""Ready-made journeys a marketer copies and tunes (each a plain definition)."""

from __future__ import annotations

from typing import Any

from activation.errors import JourneyError

_FOOTER = "\n\n不想再收到這類訊息？ Unsubscribe: {{unsubscribe_url}}"


def _send(step_id: str, channel: str, subject: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "send", "channel": channel, "subject": subject, "body": body, **extra}


TEMPLATES: dict[str, dict[str, Any]] = {
    "cart_abandoned": {
        "name": "Cart abandoned: 30 minutes, still unpaid",
        "description": "Someone added to cart; 30 minutes later, if no order arrived, remind them by e-mail. "
                       "Only New and Active customers (NASLD).",
        "entry": {"kind": "event", "event": "Product Added", "lifecycle_stages": ["New", "Active"]},
        "steps": [
            {"id": "wait_30m", "type": "wait", "minutes": 30},
            {"id": "still_unpaid", "type": "condition",
             "condition": {"kind": "no_event_since_entry", "event": "Order Completed"}},
            _send("remind", "email", "{{first_name}}，您的購物車還在等您", "{{first_name}} 您好，\n\n您的購物車裡還有商品。"
                  + _FOOTER, expires_minutes=240),
        ],
        "goal_event": "Order Completed",
        "reentry": "no_overlap",
    },
    "birthday_month": {
        "name": "Birthday month offer by member tier",
        "description": "On the 1st of each month, members registered before that month whose birthday falls "
                       "in it get an offer by tier; the ledger tags who was sent.",
        "entry": {"kind": "schedule", "schedule": "birthday_month", "day": 1, "hour": 10,
                  "registered_before_month": True},
        "steps": [
            _send("offer", "email", "生日快樂 {{first_name}}！本月專屬禮", "{{first_name}} 生日快樂！{{offer}}" + _FOOTER,
                  offers={"gold": "金卡會員：全館 8 折", "platinum": "白金會員：全館 75 折＋免運",
                          "default": "會員生日禮：滿千折百"}, expires_minutes=60 * 24 * 7),
        ],
        "reentry": "every_occurrence",
    },
    "no_repurchase_60d": {
        "name": "No repurchase for 60 days",
        "description": "Customers entering the 'no order in 60 days' segment get a come-back offer.",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID"},
        "steps": [_send("comeback", "email", "好久不見，{{first_name}}", "我們想念您！回來看看新品。" + _FOOTER)],
    },
    "product_viewed": {
        "name": "Product viewed, not bought (1 day)",
        "entry": {"kind": "event", "event": "Product Viewed"},
        "steps": [
            {"id": "wait_1d", "type": "wait", "minutes": 60 * 24},
            {"id": "not_bought", "type": "condition",
             "condition": {"kind": "no_event_since_entry", "event": "Order Completed"}},
            _send("nudge", "line", "", "還在考慮嗎？您看過的商品仍有庫存。"),
        ],
        "goal_event": "Order Completed",
    },
    "winback_sleeping": {
        "name": "Win back sleeping customers",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID", "lifecycle_stages": ["Sleep"]},
        "steps": [_send("winback", "email", "專屬回娘家禮", "{{first_name}}，送您回購折價券。" + _FOOTER),
                  {"id": "wait_7d", "type": "wait", "minutes": 60 * 24 * 7},
                  {"id": "still_asleep", "type": "condition",
                   "condition": {"kind": "no_event_since_entry", "event": "Order Completed"}},
                  _send("winback_sms", "sms", "", "【Formosa Fresh】回購券本週到期，別錯過！")],
        "goal_event": "Order Completed",
    },
    "cross_sell_dairy_no_meat": {
        "name": "Cross-sell: bought dairy, never meat",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID"},
        "steps": [_send("meat_offer", "line", "", "乳品愛好者限定：精選肉品第二件半價")],
    },
    "vip_upgrade": {
        "name": "VIP upgrade congratulations",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID"},
        "steps": [_send("congrats", "email", "恭喜升等 VIP", "{{first_name}}，恭喜升等！{{offer}}" + _FOOTER,
                        offers={"default": "VIP 專屬免運"})],
    },
    "churn_risk": {
        "name": "Churn risk from the purchase model",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID"},
        "steps": [_send("retain", "best", "給您的專屬優惠", "我們準備了專屬優惠給您。" + _FOOTER,
                        fallback_channels=["line", "email"])],
    },
    "welcome_new_member": {
        "name": "Welcome a new member",
        "entry": {"kind": "event", "event": "Signed Up"},
        "steps": [_send("welcome", "email", "歡迎加入 {{first_name}}", "歡迎！首購享 9 折。" + _FOOTER),
                  {"id": "wait_3d", "type": "wait", "minutes": 60 * 24 * 3},
                  {"id": "no_first_order", "type": "condition",
                   "condition": {"kind": "no_event_since_entry", "event": "Order Completed"}},
                  _send("first_order", "line", "", "首購 9 折券還沒用喔！")],
        "goal_event": "Order Completed",
        "reentry": "once",
    },
    "post_purchase_review": {
        "name": "Ask for a review 7 days after an order (10:00 local)",
        "entry": {"kind": "event", "event": "Order Completed"},
        "steps": [{"id": "wait_7d", "type": "wait", "minutes": 60 * 24 * 7},
                  {"id": "at_ten", "type": "wait", "until_local_hour": 10},
                  _send("review", "email", "您對這次購物滿意嗎？", "留下評價，送 50 點。" + _FOOTER)],
        "reentry": "every_occurrence",
    },
    "checkout_abandoned_sms": {
        "name": "Checkout started, unpaid after 1 hour (SMS)",
        "entry": {"kind": "event", "event": "Checkout Started", "lifecycle_stages": ["New", "Active"]},
        "steps": [{"id": "wait_1h", "type": "wait", "minutes": 60},
                  {"id": "still_unpaid", "type": "condition",
                   "condition": {"kind": "no_event_since_entry", "event": "Order Completed"}},
                  _send("sms_reminder", "sms", "", "【Formosa Fresh】您的訂單尚未完成付款，點此繼續。",
                        expires_minutes=180)],
        "goal_event": "Order Completed",
    },
    "order_to_crm_webhook": {
        "name": "Tell the CRM about new VIP-segment members (webhook)",
        "entry": {"kind": "segment", "segment_id": "REPLACE_WITH_SEGMENT_ID"},
        "steps": [_send("notify_crm", "webhook", "vip_entered", "vip_entered", destination="crm")],
    },
}


def template(name: str) -> dict[str, Any]:
    """A copy of a template's definition, else JourneyError."""
    import copy

    if name not in TEMPLATES:
        raise JourneyError(f"unknown template {name!r}; one of {', '.join(sorted(TEMPLATES))}", field="template")
    return copy.deepcopy(TEMPLATES[name])
