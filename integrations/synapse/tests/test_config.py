"""The module's configuration: what it accepts, and the error for each mistake."""

import os
import unittest

from groupgate_synapse import parse_config
from synapse.module_api.errors import ConfigError

GOOD = {"endpoint": "http://127.0.0.1:8750"}


class ParseConfig(unittest.TestCase):
    def test_defaults(self):
        c = parse_config(GOOD)
        self.assertEqual((c.timeout_ms, c.fail_open, c.on_review), (500, False, "deny"))
        self.assertIsNone(c.measures_webhook)

    def test_each_mistake_names_its_key(self):
        for bad, key in [
            ({}, "endpoint"),
            ({"endpoint": "127.0.0.1:8750"}, "endpoint"),
            ({**GOOD, "timeout_ms": 0}, "timeout_ms"),
            ({**GOOD, "timeout_ms": "500"}, "timeout_ms"),
            ({**GOOD, "fail_open": "yes"}, "fail_open"),
            ({**GOOD, "on_review": "maybe"}, "on_review"),
            ({**GOOD, "default_user": {"credit": 3}}, "default_user"),
            ({**GOOD, "default_user": {"credit_level": 300}}, "default_user.credit_level"),
            ({**GOOD, "default_user": {"identity_verified": "yes"}}, "default_user.identity_verified"),
            ({**GOOD, "default_group": {"member_limit": "200"}}, "default_group"),
            ({**GOOD, "default_group": {"member_limit": 2**32}}, "default_group"),
            ({**GOOD, "default_group": []}, "default_group"),
            ({**GOOD, "endpont": "x"}, "endpont"),
        ]:
            with self.subTest(bad=bad), self.assertRaises(ConfigError) as raised:
                parse_config(bad)
            self.assertIn(key, str(raised.exception))


class UserFactsValues(unittest.TestCase):
    def test_a_value_groupgate_cannot_take_falls_back_to_the_default(self):
        import json
        import tempfile

        from groupgate_synapse import UserFacts

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"@a:x": {"credit_level": 300, "groups_joined": -1, "labels": "vip", "region": "CN-44"}}, f)
        self.addCleanup(os.unlink, f.name)
        user = UserFacts(f.name, {"credit_level": 1}).user("@a:x")
        self.assertEqual((user["credit_level"], user["groups_joined"], user["labels"]), (1, 0, []))
        self.assertEqual(user["region"], "CN-44")


if __name__ == "__main__":
    unittest.main()
