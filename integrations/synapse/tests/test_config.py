"""The module's configuration: what it accepts, and the error for each mistake."""

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
            ({**GOOD, "default_group": []}, "default_group"),
            ({**GOOD, "endpont": "x"}, "endpont"),
        ]:
            with self.subTest(bad=bad), self.assertRaises(ConfigError) as raised:
                parse_config(bad)
            self.assertIn(key, str(raised.exception))


if __name__ == "__main__":
    unittest.main()
