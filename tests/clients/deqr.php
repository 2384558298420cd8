<?php
// The legacy web decoder as payment-channel scripts call it: the image read from disk, base64
// encoded and concatenated into a form body without escaping ("data=" . base64), posted with
// curl, the answer's data.RawData read. The key goes in the form too, where such a script can
// add a field but not a header. Exits non-zero when RawData is not the expected text.
//
// Usage: php deqr.php BASE KEY IMAGE_FILE EXPECTED_TEXT
[$script, $base, $key, $file, $expected] = $argv;

function deqr(string $base, string $fields): array
{
    $ch = curl_init($base . '/Api/Browser/deqr');
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, $fields);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_TIMEOUT, 30);
    curl_setopt($ch, CURLOPT_HTTPHEADER, ['Content-Type: application/x-www-form-urlencoded']);
    $body = curl_exec($ch);
    if ($body === false) {
        fwrite(STDERR, 'curl: ' . curl_error($ch) . "\n");
        exit(1);
    }
    $status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    curl_close($ch);
    if ($status !== 200) {
        fwrite(STDERR, "HTTP $status: $body\n");
        exit(1);
    }
    return json_decode($body, true);
}

$image = base64_encode(file_get_contents($file));
if (strpos($image, '+') === false) {
    fwrite(STDERR, "the test image's base64 has no '+': the unescaped form is not exercised\n");
    exit(1);
}
$json = deqr($base, 'data=' . $image . '&key=' . $key);
if (($json['status'] ?? null) !== 1 || $json['data']['RawData'] !== $expected) {
    fwrite(STDERR, 'unexpected answer: ' . json_encode($json) . "\n");
    exit(1);
}
echo "php curl deqr form: data.RawData = {$json['data']['RawData']}\n";

// Without the key the answer is still HTTP 200, with status 0 and a reason.
$refused = deqr($base, 'data=' . $image);
if (($refused['status'] ?? null) !== 0 || empty($refused['data']['info'])) {
    fwrite(STDERR, 'a missing key was not refused: ' . json_encode($refused) . "\n");
    exit(1);
}
echo "php curl deqr without a key: status 0, {$refused['data']['info']}\n";
