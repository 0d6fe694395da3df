"""Fake chat platforms on 127.0.0.1 for tests that go through the real client libraries.

    from tests.fakes.discord import FakeDiscord
    from tests.fakes.slack import FakeSlack

    async with FakeDiscord() as fake:
        with fake.patched():             # Route.BASE / gateway -> the fake, restored after
            ...discord.py code...
        fake.messages                    # what was posted

    async with FakeSlack() as fake:
        client = AsyncWebClient("xoxb-test", base_url=fake.api_base)

Both record every request (`fake.requests`), can fail scripted requests
(`fake.fail_next(...)`) or break a channel for good (`fake.break_channel(...)`), and can run in
a background thread (`start_in_thread()` / `stop_thread()`) when the client is another
process. See each module's docstring for the routes served.
"""
