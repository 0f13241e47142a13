<?php
// PHP as the test oracle for the serialized walker and the URL rewriter.
// One JSON request per line on stdin, one JSON answer per line on stdout; bytes
// travel base64-encoded. Test-only: "build"/"eval" run PHP code from the tests.
//
//   {"op":"build","code":"<php expr>"}        -> {"value": b64(serialize(expr))}
//   {"op":"eval","code":"<php expr>"}         -> {"value": b64(expr)}   (a string)
//   {"op":"unserialize","value":b64}          -> {"ok": bool, "strict": bool}
//   {"op":"is_serialized","values":[b64,...]} -> {"result": [bool, ...]}
//   {"op":"check","input":b64,"ours":b64,"pairs":[[b64,b64],...],"mode":"auto|plain"}
//        -> {"ok": bool, "why": str}
//
// "check" computes the expected result independently: it unserializes the input,
// turns it into a canonical tree (nested serialized strings unserialized too), applies
// the replacement to every string leaf with its own regex (alternation sorted by
// length, PCRE), and compares with the canonical tree of our output.

error_reporting(E_ALL & ~E_DEPRECATED & ~E_WARNING & ~E_NOTICE);
ini_set('display_errors', 'stderr');

// WordPress's is_serialized() (wp-includes/functions.php), strict mode.
function wp_is_serialized($data) {
    if (!is_string($data)) return false;
    $data = trim($data);
    if ('N;' === $data) return true;
    if (strlen($data) < 4) return false;
    if (':' !== $data[1]) return false;
    $lastc = substr($data, -1);
    if (';' !== $lastc && '}' !== $lastc) return false;
    $token = $data[0];
    switch ($token) {
        case 's':
            if ('"' !== substr($data, -2, 1)) return false;
            // fall through
        case 'a':
        case 'O':
        case 'E':
            return (bool) preg_match("/^{$token}:[0-9]+:/s", $data);
        case 'b':
        case 'i':
        case 'd':
            return (bool) preg_match("/^{$token}:[0-9.E+-]+;$/", $data);
    }
    return false;
}

function php_unserialize_ok($s) {
    $v = @unserialize($s);
    return $v !== false || $s === 'b:0;';
}

// PHP 8.2 ignores trailing bytes; a value that still parses without its last byte
// had trailing bytes (a complete value always needs its final ';' or '}').
function php_unserialize_strict($s) {
    return php_unserialize_ok($s) && ($s === '' || !php_unserialize_ok(substr($s, 0, -1)));
}

function canon($v, &$seen) {
    if (is_array($v)) {
        $o = [];
        foreach ($v as $k => $x) $o[$k] = canon($x, $seen);
        return ['a', $o];
    }
    if (is_object($v)) {
        $id = spl_object_id($v);
        if (isset($seen[$id])) return ['ref', $seen[$id]];
        $seen[$id] = count($seen);
        if ($v instanceof UnitEnum) return ['enum', get_class($v), $v->name];
        $props = [];
        foreach ((array) $v as $k => $x) $props[$k] = canon($x, $seen);
        return ['o', get_class($v), $props];
    }
    if (is_float($v)) return ['d', serialize($v)];
    if (is_string($v)) {
        if (wp_is_serialized($v)) {
            $t = trim($v);
            if (php_unserialize_strict($t)) {
                $pos = strpos($v, $t);
                $inner_seen = [];
                return ['n', canon(unserialize($t), $inner_seen), substr($v, 0, $pos), substr($v, $pos + strlen($t))];
            }
            return ['broken', $v];
        }
        return ['s', $v];
    }
    return ['x', $v];
}

function make_replacer(array $pairs) {
    // A pair may carry a third element: how many leading bytes of the search term match
    // in any ASCII letter case (scheme and host); the rest must match exactly.
    $map = [];
    $ci = [];
    foreach ($pairs as $p) {
        $s = base64_decode($p[0]);
        $map[$s] = base64_decode($p[1]);
        $ci[$s] = (int)($p[2] ?? 0);
    }
    $keys = array_map('strval', array_keys($map));
    // Longest first, so the alternation prefers the longest term at a position.
    usort($keys, fn($a, $b) => strlen($b) <=> strlen($a));
    $alts = [];
    foreach ($keys as $k) {
        $n = $ci[$k];
        $alt = $n > 0
            ? '(?i:' . preg_quote(substr($k, 0, $n), '~') . ')' . preg_quote(substr($k, $n), '~')
            : preg_quote($k, '~');
        if (preg_match('/[A-Za-z0-9_-]$/', $k)) $alt .= '(?![A-Za-z0-9_\-]|\.[A-Za-z0-9_\-]|:[0-9])';
        $alts[] = $alt;
    }
    $re = '~(?:' . implode('|', $alts) . ')~s';
    $resolve = function ($t) use ($map, $ci) {
        if (array_key_exists($t, $map)) return $map[$t];
        // A case variant: of the terms it folds to (whose exact part matches), the closest.
        $best = null;
        $bestd = PHP_INT_MAX;
        foreach ($map as $k => $r) {
            $k = (string)$k;
            $n = $ci[$k];
            if ($n === 0 || strlen($k) !== strlen($t) || strtolower($k) !== strtolower($t)) continue;
            if (substr($k, $n) !== substr($t, $n)) continue;
            $d = 0;
            for ($i = 0; $i < strlen($k); $i++) if ($k[$i] !== $t[$i]) $d++;
            if ($d < $bestd) { $best = $r; $bestd = $d; }
        }
        return $best;
    };
    return function ($s) use ($re, $resolve) {
        return preg_replace_callback($re, fn($m) => $resolve($m[0]), $s);
    };
}

function apply_tree($t, $fn) {
    switch ($t[0]) {
        case 's': return ['s', $fn($t[1])];
        case 'n': return ['n', apply_tree($t[1], $fn), $t[2], $t[3]];
        case 'a':
            $o = [];
            foreach ($t[1] as $k => $x) $o[$k] = apply_tree($x, $fn);
            return ['a', $o];
        case 'o':
            $o = [];
            foreach ($t[2] as $k => $x) $o[$k] = apply_tree($x, $fn);
            return ['o', $t[1], $o];
        default: return $t;
    }
}

function check($req) {
    $in = base64_decode($req['input']);
    $ours = base64_decode($req['ours']);
    $fn = make_replacer($req['pairs']);
    $mode = $req['mode'] ?? 'auto';
    if ($mode === 'plain' || !wp_is_serialized($in)) {
        $want = $fn($in);
        return $want === $ours ? ['ok' => true] : ['ok' => false, 'why' => 'plain mismatch', 'want' => base64_encode($want)];
    }
    $t = trim($in);
    if (!php_unserialize_strict($t)) {
        // Looks serialized but PHP refuses it: rewritten as plain text.
        $want = $fn($in);
        return $want === $ours ? ['ok' => true] : ['ok' => false, 'why' => 'malformed input: plain mismatch', 'want' => base64_encode($want)];
    }
    $tt = trim($ours);
    if (!php_unserialize_strict($tt)) return ['ok' => false, 'why' => 'our output does not unserialize'];
    $lead = substr($in, 0, strpos($in, $t));
    if (substr($ours, 0, strlen($lead)) !== $lead) return ['ok' => false, 'why' => 'leading whitespace changed'];
    $s1 = [];
    $s2 = [];
    $want = apply_tree(canon(unserialize($t), $s1), $fn);
    $got = canon(unserialize($tt), $s2);
    if ($want === $got) return ['ok' => true];
    return ['ok' => false, 'why' => 'structure mismatch',
            'want' => var_export($want, true), 'got' => var_export($got, true)];
}

while (($line = fgets(STDIN)) !== false) {
    $req = json_decode($line, true);
    try {
        switch ($req['op']) {
            case 'build': $out = ['value' => base64_encode(serialize(eval('return ' . $req['code'] . ';')))]; break;
            case 'eval': $out = ['value' => base64_encode(eval('return ' . $req['code'] . ';'))]; break;
            case 'unserialize':
                $v = base64_decode($req['value']);
                $out = ['ok' => php_unserialize_ok($v), 'strict' => php_unserialize_strict($v)];
                break;
            case 'is_serialized':
                $out = ['result' => array_map(fn($v) => wp_is_serialized(base64_decode($v)), $req['values'])];
                break;
            case 'check': $out = check($req); break;
            default: $out = ['error' => 'unknown op'];
        }
    } catch (Throwable $e) {
        $out = ['error' => get_class($e) . ': ' . $e->getMessage()];
    }
    echo json_encode($out, JSON_INVALID_UTF8_SUBSTITUTE), "\n";
    flush();
}
