"""The campaign follower reads the log in bounded windows and publishes each start once."""

from crm.workers.follower import CampaignFollower


def test_a_start_far_behind_the_position_is_published_once_after_a_few_windows(application, container, monkeypatch):
    published = []
    monkeypatch.setattr(CampaignFollower, "_publish", staticmethod(lambda topic, id: published.append((topic, id))))
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    for i in range(30):  # events the follower has no interest in, ahead of the start
        application.register_customer(restaurant_id, f"c{i}@example.com", actor="admin", scope=None)
    campaign_id = application.create_campaign(
        restaurant_id,
        {"name": "Hello", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"},
        actor="admin",
        scope=None,
    )
    application.run_campaign(campaign_id, actor="admin", scope=None)
    follower = CampaignFollower(container)
    follower.read_limit = 5  # windows of 20 ids: the start lies several windows ahead

    polls = 0
    while follower.poll_once():  # True while a window moved on or something was published
        polls += 1
        assert polls < 50
    assert polls >= 4  # it got there window by window, never reading the whole rest of the log
    assert [id for _, id in published] == [str(campaign_id)]
    assert follower._position == container.runner.head()
    assert not follower.poll_once() and len(published) == 1  # nothing new: nothing published again
