"""The campaign follower reads the log in bounded windows and publishes each start once."""

import queue
import time

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


def test_on_postgres_it_sleeps_until_a_commit_instead_of_polling(on_postgres, application, container, monkeypatch):
    published: queue.Queue = queue.Queue()
    monkeypatch.setattr(CampaignFollower, "_publish", staticmethod(lambda topic, id: published.put(id)))
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    campaign_id = application.create_campaign(
        restaurant_id,
        {"name": "Hello", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"},
        actor="admin",
        scope=None,
    )
    follower = CampaignFollower(container, poll_seconds=0.01, sweep_seconds=600, due_seconds=600)
    polls = []
    poll_once = follower.poll_once
    monkeypatch.setattr(follower, "poll_once", lambda: polls.append(1) or poll_once())
    thread = follower.start_thread()
    try:
        time.sleep(1.5)  # nothing commits meanwhile
        idle_polls = len(polls)

        application.run_campaign(campaign_id, actor="admin", scope=None)

        assert published.get(timeout=0.5) == str(campaign_id)  # woken by the commit, well before a second
    finally:
        follower.stop()
        thread.join(5)
    assert not thread.is_alive()
    assert idle_polls <= 4  # a read of the log's head a second while idle; polling every 10 ms: about 150
