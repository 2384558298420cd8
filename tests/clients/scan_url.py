"""cli.im's open API as its own documentation calls it, with Python requests: a JSON body
(json=) and the key as an Authorization: Bearer header. Reads data.content, as callers do.

Usage: scan_url.py BASE KEY IMAGE_URL EXPECTED_TEXT
"""
import sys

import requests

base, key, image_url, expected = sys.argv[1:5]
response = requests.post(
    f"{base}/api/v1/qrcode/scan_url",
    json={"url": image_url},
    headers={"Authorization": f"Bearer {key}"},
    timeout=30,
)
response.raise_for_status()
body = response.json()
assert body["code"] == 0, body
assert body["data"]["content"] == expected, body
assert body["data"]["provider"] == "Alipay", body
print(f"python requests scan_url: data.content = {body['data']['content']}")
