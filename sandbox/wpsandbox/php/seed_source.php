<?php
// Seeds the source site with the content real migrations break on: page hierarchies,
// media with generated sizes, users of every role, serialized options holding the site
// URL (nested, objects of missing classes, multibyte), block markup with JSON-escaped,
// urlencoded and protocol-relative URLs, non-published posts, menus.
// The big postmeta table is added afterwards with bulk SQL (see build.py).
// Env: WPSB_DOCROOT WPSB_URL [WPSB_THEME]
require __DIR__ . '/bootstrap.php';

$docroot = wpsb_env('WPSB_DOCROOT');
$home = rtrim(wpsb_env('WPSB_URL'), '/');
wpsb_fake_request($home);
require $docroot . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/file.php';
require_once ABSPATH . 'wp-admin/includes/media.php';
require_once ABSPATH . 'wp-admin/includes/image.php';

// As the administrator (unfiltered_html), block markup is stored verbatim instead of
// going through kses.
wp_set_current_user(1);

$host_port = preg_replace('#^https?://#', '', $home);           // 127.0.0.1:PORT
$json_home = substr(json_encode($home), 1, -1);                  // http:\/\/127.0.0.1:PORT
$facts = ['home' => $home];

// A class the site never loads: its serialized instances must survive the URL rewrite
// although PHP can only unserialize them as __PHP_Incomplete_Class. Its protected and
// private properties put NUL bytes into the serialized form.
class Legacy_Settings
{
    public $label = 'Legacy ☕ settings';
    protected $endpoint;
    private $cache_path;

    public function __construct(string $endpoint, string $cache_path)
    {
        $this->endpoint = $endpoint;
        $this->cache_path = $cache_path;
    }
}

function sb_fail($what, $error): void
{
    $msg = is_wp_error($error) ? $error->get_error_message() : var_export($error, true);
    fwrite(STDERR, "seed failed at $what: $msg\n");
    exit(1);
}

function sb_post(array $data): int
{
    // wp_insert_post unslashes its input: slash it so JSON's `\/` survives.
    $id = wp_insert_post(wp_slash($data), true);
    if (is_wp_error($id)) {
        sb_fail('post ' . ($data['post_title'] ?? '?'), $id);
    }
    return $id;
}

function sb_image(string $name, int $w, int $h, array $rgb, int $parent, string $alt): int
{
    $im = imagecreatetruecolor($w, $h);
    $bg = imagecolorallocate($im, $rgb[0], $rgb[1], $rgb[2]);
    imagefill($im, 0, 0, $bg);
    $fg = imagecolorallocate($im, 255 - $rgb[0], 255 - $rgb[1], 255 - $rgb[2]);
    for ($i = 0; $i < 8; $i++) {
        imagefilledrectangle($im, $i * $w / 8, $h / 2 + ($i % 3) * 10, $i * $w / 8 + $w / 16, $h - 10, $fg);
    }
    imagestring($im, 5, 12, 12, $name . " {$w}x{$h}", $fg);
    $tmp = wp_tempnam($name);
    if (str_ends_with($name, '.png')) {
        imagepng($im, $tmp);
    } else {
        imagejpeg($im, $tmp, 82);
    }
    imagedestroy($im);
    $id = media_handle_sideload(['name' => $name, 'tmp_name' => $tmp], $parent, $alt);
    if (is_wp_error($id)) {
        sb_fail("image $name", $id);
    }
    update_post_meta($id, '_wp_attachment_image_alt', $alt);
    return $id;
}

function sb_block(string $name, array $attrs, string $html): string
{
    // json_encode escapes slashes, as WordPress's serialize_block_attributes() does.
    $json = $attrs ? ' ' . json_encode($attrs) : '';
    return "<!-- wp:$name$json -->\n$html\n<!-- /wp:$name -->\n\n";
}

// ---------------------------------------------------------------- users
$users = ['admin' => 1];
$roles = [
    ['editor_ed', 'editor', 'Ed Itor'],
    ['author_alice', 'author', 'Alice Autorin'],
    ['author_jun', 'author', '小林 純'],
    ['contrib_carl', 'contributor', 'Carl Contributor'],
    ['subscriber_sam', 'subscriber', 'Sam Subscriber'],
];
foreach ($roles as [$login, $role, $display]) {
    $id = wp_insert_user([
        'user_login' => $login,
        'user_pass' => wp_generate_password(20),
        'user_email' => "$login@example.test",
        'user_url' => "$home/author/$login/",
        'display_name' => $display,
        'role' => $role,
        'description' => "Writes for $home — ✍️",
    ]);
    if (is_wp_error($id)) {
        sb_fail("user $login", $id);
    }
    update_user_meta($id, 'sandbox_profile', ['website' => "$home/author/$login/", 'city' => '東京']);
    $users[$login] = $id;
}
$facts['users'] = $users;

// ---------------------------------------------------------------- taxonomies
$cats = [];
foreach (['News' => 0, 'Guides' => 0, 'Reisen & Café ☕' => 0] as $name => $parent) {
    $t = wp_insert_term($name, 'category', ['parent' => $parent, 'description' => "About $name on $home"]);
    if (is_wp_error($t)) {
        sb_fail("category $name", $t);
    }
    $cats[$name] = $t['term_id'];
}
$t = wp_insert_term('Advanced', 'category', ['parent' => $cats['Guides']]);
$cats['Advanced'] = $t['term_id'];
$facts['categories'] = $cats;

// ---------------------------------------------------------------- pages
$about = sb_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'About Us',
    'post_content' => sb_block('paragraph', [], '<p>We are a small team. Meet <a href="' . $home
        . '/about-us/our-team/">our team</a>.</p>')]);
$team = sb_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Our Team',
    'post_parent' => $about, 'menu_order' => 1,
    'post_content' => sb_block('paragraph', [], '<p>The people behind the site.</p>')]);
$leadership = sb_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Leadership',
    'post_parent' => $team,
    'post_content' => sb_block('paragraph', [], '<p>Our leadership 👩‍💼 — back to <a href="' . $home
        . '/about-us/">About Us</a>.</p>')]);
$contact = sb_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Contact',
    'post_content' => sb_block('shortcode', [], '[sandbox_contact]')]);
$facts['pages'] = ['about' => $about, 'team' => $team, 'leadership' => $leadership, 'contact' => $contact];

// ---------------------------------------------------------------- posts + media
$showcase = sb_post(['post_title' => 'Block Editor Showcase', 'post_status' => 'publish',
    'post_date' => '2021-03-15 10:00:00', 'post_author' => $users['editor_ed'],
    'post_category' => [$cats['News']], 'tags_input' => ['blocks', 'images'], 'post_content' => '']);
$cafe = sb_post(['post_title' => '東京のカフェ ☕ Café Guide 🚀', 'post_status' => 'publish',
    'post_date' => '2022-07-01 08:30:00', 'post_author' => $users['author_jun'],
    'post_category' => [$cats['Reisen & Café ☕']], 'tags_input' => ['東京', 'coffee'], 'post_content' => '']);
$tips = sb_post(['post_title' => 'Advanced Migration Tips', 'post_status' => 'publish',
    'post_date' => '2023-11-20 14:00:00', 'post_author' => $users['author_alice'],
    'post_category' => [$cats['Guides'], $cats['Advanced']], 'tags_input' => ['migration'], 'post_content' => '']);

$img = [
    'hero' => sb_image('hero-sunset.jpg', 1600, 1000, [230, 120, 40], $showcase, 'Sunset over the sea'),
    'gallery1' => sb_image('gallery-1.jpg', 1200, 800, [40, 120, 200], $showcase, 'Gallery one'),
    'gallery2' => sb_image('gallery-2.png', 900, 600, [60, 180, 90], $showcase, 'Gallery two'),
    'logo' => sb_image('logo.png', 400, 200, [20, 20, 80], $showcase, 'Sandbox logo'),
    'menu' => sb_image('Café Menü.png', 800, 600, [120, 70, 30], $cafe, 'カフェのメニュー'),
    'diagram' => sb_image('migration-diagram.jpg', 1024, 768, [200, 200, 200], $tips, 'Migration diagram'),
];
$facts['media'] = [];
foreach ($img as $key => $id) {
    $meta = wp_get_attachment_metadata($id);
    $facts['media'][$key] = [
        'id' => $id,
        'file' => $meta['file'],
        'sizes' => array_map(static fn ($s) => $s['file'], $meta['sizes'] ?? []),
    ];
}
$url = static fn (string $key, string $size = 'full') => wp_get_attachment_image_url($img[$key], $size);
set_post_thumbnail($showcase, $img['hero']);
set_post_thumbnail($cafe, $img['menu']);
set_post_thumbnail($tips, $img['diagram']);

$share = rawurlencode("$home/block-editor-showcase/");          // http%3A%2F%2F127.0.0.1%3APORT%2F...
$proto_relative = preg_replace('#^https?:#', '', $url('logo'));   // //127.0.0.1:PORT/wp-content/...
$showcase_content =
    sb_block('paragraph', [], '<p>Welcome to the block editor showcase. Read <a href="' . $home
        . '/about-us/">about us</a>, the <a href="' . $home . '/about-us/our-team/leadership/">leadership page</a>'
        . ' or <a href="' . $home . '/?p=' . $cafe . '">a post by its id</a>.</p>')
    . sb_block('image', ['id' => $img['hero'], 'sizeSlug' => 'large', 'linkDestination' => 'media',
        'url' => $url('hero', 'large')],
        '<figure class="wp-block-image size-large"><a href="' . $url('hero') . '"><img src="' . $url('hero', 'large')
        . '" alt="Sunset over the sea" class="wp-image-' . $img['hero'] . '"/></a></figure>')
    . sb_block('cover', ['url' => $url('gallery1'), 'id' => $img['gallery1'], 'dimRatio' => 50],
        '<div class="wp-block-cover"><span aria-hidden="true" class="wp-block-cover__background has-background-dim"></span>'
        . '<img class="wp-block-cover__image-background wp-image-' . $img['gallery1'] . '" alt="" src="'
        . $url('gallery1') . '" data-object-fit="cover"/><div class="wp-block-cover__inner-container">'
        . '<p class="has-text-align-center">Cover ☕</p></div></div>')
    . sb_block('gallery', ['ids' => [$img['gallery1'], $img['gallery2']], 'linkTo' => 'file'],
        '<figure class="wp-block-gallery has-nested-images columns-default is-cropped">'
        . '<figure class="wp-block-image"><a href="' . $url('gallery1') . '"><img src="' . $url('gallery1', 'medium')
        . '" data-src="' . $url('gallery1', 'medium') . '" alt="Gallery one"/></a></figure>'
        . '<figure class="wp-block-image"><a href="' . $url('gallery2') . '"><img src="' . $url('gallery2', 'medium')
        . '" alt="Gallery two"/></a></figure></figure>')
    . sb_block('html', [], '<div class="logo-strip" style="background-image: url(\'' . $url('logo') . '\')">'
        . '<img src="' . $proto_relative . '" alt="logo (protocol-relative)"></div>')
    . sb_block('paragraph', [], '<p><a href="https://www.facebook.com/sharer/sharer.php?u=' . $share
        . '">Share on Facebook</a> · <a href="https://twitter.com/intent/tweet?url=' . $share
        . '&amp;text=Caf%C3%A9">Tweet</a> · <a href="https://' . $host_port
        . '/checkout/">secure checkout (https)</a></p>');
wp_update_post(wp_slash(['ID' => $showcase, 'post_content' => $showcase_content,
    'post_excerpt' => "Blocks, images and links to $home"]));
update_post_meta($showcase, '_sandbox_source_link', "$home/block-editor-showcase/");
update_post_meta($showcase, '_sandbox_builder_data', wp_slash(json_encode([
    ['widget' => 'image', 'url' => $url('hero'), 'link' => "$home/contact/"],
    ['widget' => 'text', 'text' => 'Grüße 🌏'],
])));
update_post_meta($showcase, '_sandbox_serialized', ['url' => "$home/about-us/", 'title' => '東京 ☕']);

wp_update_post(wp_slash(['ID' => $cafe, 'post_content' =>
    sb_block('paragraph', [], '<p>Grüße aus 東京! 🍣🍵 漢字かなカナ 한국어 — «quotes» &amp; emoji 🚀.</p>')
    . sb_block('image', ['id' => $img['menu'], 'sizeSlug' => 'medium', 'url' => $url('menu', 'medium')],
        '<figure class="wp-block-image size-medium"><img src="' . $url('menu', 'medium') . '" alt="カフェのメニュー" class="wp-image-'
        . $img['menu'] . '"/></figure>')]));

// Classic-editor HTML (no blocks), with the srcset WordPress itself generates.
wp_update_post(wp_slash(['ID' => $tips, 'post_content' =>
    "<p>Moving a site is mostly about URLs. Start at <a href=\"$home/\">the home page</a>.</p>\n"
    . wp_get_attachment_image($img['diagram'], 'large') . "\n"
    . "<p>Download the <a href=\"" . $url('diagram') . "\">full diagram</a>.</p>\n"
    . "<p>JSON in a script: <code>{\"home\":\"$json_home\\/\"}</code></p>"]));

// Filler posts so that listings paginate (10 per page by default).
for ($i = 1; $i <= 12; $i++) {
    $author = array_values($users)[$i % count($users)];
    sb_post(['post_title' => "Sandbox post #$i", 'post_status' => 'publish', 'post_author' => $author,
        'post_date' => sprintf('2020-%02d-%02d 09:00:00', ($i % 12) + 1, ($i % 27) + 1),
        'post_category' => [$i % 2 ? $cats['News'] : $cats['Guides']], 'tags_input' => ["tag-$i", 'filler'],
        'post_content' => sb_block('paragraph', [], "<p>Filler number $i. Back to <a href=\"$home/\">home</a>.</p>")]);
}

// Real-world edge cases (issue 9): what blogs accumulate and migrations trip over.
$history = sb_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Our History',
    'post_name' => 'history', 'post_parent' => $leadership,  // four deep: about-us/our-team/leadership/history
    'post_content' => sb_block('paragraph', [], '<p>Founded in a garage, four levels down.</p>')]);
$edge = [
    'untitled' => sb_post(['post_title' => '', 'post_name' => 'untitled-note', 'post_status' => 'publish',
        'post_date' => '2021-06-01 10:00:00',
        'post_content' => sb_block('paragraph', [], '<p>A post nobody named.</p>')]),
    'no_body' => sb_post(['post_title' => 'Just a title', 'post_status' => 'publish',
        'post_date' => '2021-06-02 10:00:00', 'post_content' => '']),
    'image_only' => sb_post(['post_title' => '', 'post_name' => 'image-only', 'post_status' => 'publish',
        'post_date' => '2021-06-03 10:00:00',
        'post_content' => sb_block('image', ['id' => $img['logo'], 'sizeSlug' => 'full'],
            '<figure class="wp-block-image size-full"><img src="' . $url('logo') . '" alt="" class="wp-image-'
            . $img['logo'] . '"/></figure>')]),
    // A visitor sees only the password form: not migratable by scraping (Mode B reports it).
    'protected' => sb_post(['post_title' => 'Members only', 'post_status' => 'publish',
        'post_password' => 'sandbox-members', 'post_date' => '2021-06-04 10:00:00',
        'post_content' => '<p>Only for members.</p>']),
    'sticky' => sb_post(['post_title' => 'Pinned: read me first', 'post_status' => 'publish',
        'post_date' => '2021-06-05 10:00:00', 'post_content' => '<p>Always on top.</p>']),
    'long_title' => sb_post(['post_title' => trim(str_repeat('A very long title that keeps on going ', 7)) . ' — end',
        'post_status' => 'publish', 'post_date' => '2021-06-06 10:00:00', 'post_content' => '<p>Long.</p>']),
    // 110 tags and quotes, an ampersand and emoji in the title; an embed the target renders offline.
    'many_terms' => sb_post(['post_title' => 'Tom & Jerry: “quotes”, \'apostrophes\' & emoji 😀',
        'post_status' => 'publish', 'post_date' => '2021-06-07 10:00:00',
        'tags_input' => array_map(static fn (int $i): string => "topic-$i", range(1, 110)),
        'post_content' => sb_block('paragraph', [], '<p>Lists:</p>')
            . sb_block('list', [], '<ul><li>One<ul><li>One and a half<ul><li>Deeper</li></ul></li></ul></li>'
                . '<li>Two</li></ul>')
            . sb_block('embed', ['url' => 'https://www.youtube.com/watch?v=dQw4w9WgXcQ', 'type' => 'video',
                'providerNameSlug' => 'youtube'], '<figure class="wp-block-embed is-type-video is-provider-youtube">'
                . '<div class="wp-block-embed__wrapper">https://www.youtube.com/watch?v=dQw4w9WgXcQ</div></figure>')]),
];
stick_post($edge['sticky']);
$facts['edge_posts'] = $edge + ['history_page' => $history];

// Every post format (a post_format term; themes style them, feeds and apps read them).
$facts['post_formats'] = [];
foreach (['aside', 'gallery', 'link', 'image', 'quote', 'status', 'video', 'audio', 'chat'] as $i => $format) {
    $id = sb_post(['post_title' => "Post format: $format", 'post_status' => 'publish',
        'post_date' => sprintf('2021-07-%02d 10:00:00', $i + 1), 'post_category' => [$cats['News']],
        'post_content' => sb_block('paragraph', [], "<p>A post in the $format format.</p>")]);
    set_post_format($id, $format);
    $facts['post_formats'][$format] = $id;
}

// ---------------------------------------------------------------- every core block (WordPress 6.1)
// Three posts hold every block type of the installed WordPress a post's content can hold,
// written as the 6.1 editor saves them (static blocks) or as their comments (dynamic ones).
// Left out: the site editor's theme blocks (site-*, post-*, query*, comment*, navigation*,
// template-part, pattern, widget-group, legacy-widget, avatar), which templates hold, not posts.
// Real media: the seed's images, and a WAV, a PDF and an MP4 uploaded here.
$every = [
    'text' => sb_post(['post_title' => 'Every core block: text', 'post_status' => 'publish',
        'post_date' => '2024-01-10 09:00:00', 'post_author' => $users['editor_ed'],
        'post_category' => [$cats['Guides']], 'tags_input' => ['blocks'], 'post_content' => '']),
    'media' => sb_post(['post_title' => 'Every core block: media and layout', 'post_status' => 'publish',
        'post_date' => '2024-01-11 09:00:00', 'post_author' => $users['editor_ed'],
        'post_category' => [$cats['Guides']], 'tags_input' => ['blocks', 'images'], 'post_content' => '']),
    'dynamic' => sb_post(['post_title' => 'Every core block: widgets and dynamic blocks', 'post_status' => 'publish',
        'post_date' => '2024-01-12 09:00:00', 'post_author' => $users['editor_ed'],
        'post_category' => [$cats['Guides']], 'tags_input' => ['blocks'], 'post_content' => '']),
];

function sb_upload(string $name, string $bytes, int $parent, string $title): int
{
    $tmp = wp_tempnam($name);
    file_put_contents($tmp, $bytes);
    $id = media_handle_sideload(['name' => $name, 'tmp_name' => $tmp], $parent, $title);
    if (is_wp_error($id)) {
        sb_fail("upload $name", $id);
    }
    return $id;
}

// One second of a 440 Hz tone: 8 kHz, 8-bit mono PCM.
$samples = '';
for ($i = 0; $i < 8000; $i++) {
    $samples .= chr(128 + (int) round(100 * sin(2 * M_PI * 440 * $i / 8000)));
}
$wav = 'RIFF' . pack('V', 36 + strlen($samples)) . 'WAVEfmt ' . pack('VvvVVvv', 16, 1, 1, 8000, 8000, 1, 8)
    . 'data' . pack('V', strlen($samples)) . $samples;
// A one-page PDF with a line of text; the xref offsets are computed.
$objects = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    "<< /Length 44 >>\nstream\nBT /F1 18 Tf 20 60 Td (Sandbox menu) Tj ET\nendstream",
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
$pdf = "%PDF-1.4\n";
$offsets = [];
foreach ($objects as $n => $body) {
    $offsets[] = strlen($pdf);
    $pdf .= ($n + 1) . " 0 obj\n$body\nendobj\n";
}
$xref = strlen($pdf);
$pdf .= "xref\n0 " . (count($objects) + 1) . "\n0000000000 65535 f \n";
foreach ($offsets as $offset) {
    $pdf .= sprintf("%010d 00000 n \n", $offset);
}
$pdf .= "trailer\n<< /Size " . (count($objects) + 1) . " /Root 1 0 R >>\nstartxref\n$xref\n%%EOF\n";
$img['audio'] = sb_upload('sandbox-tone.wav', $wav, $every['media'], 'A 440 Hz tone');
$img['file'] = sb_upload('sandbox-menu.pdf', $pdf, $every['media'], 'Sandbox menu (PDF)');
$img['video'] = sb_upload('sandbox-birds.mp4',
    file_get_contents(ABSPATH . 'wp-content/themes/twentytwentytwo/assets/videos/birds.mp4'), $every['media'],
    'Birds (video)');
$file_url = static fn (string $key): string => wp_get_attachment_url($img[$key]);

$li = static fn (string $html): string => "<!-- wp:list-item -->\n<li>$html</li>\n<!-- /wp:list-item -->\n";
$para = static fn (string $html): string => sb_block('paragraph', [], "<p>$html</p>");
// The text blocks. Between two blocks, classic-editor HTML: the freeform block (with a
// [caption] shortcode, as classic posts hold them).
$text_content =
    sb_block('paragraph', ['dropCap' => true], '<p class="has-drop-cap">Every text block the editor has: '
        . '<strong>bold</strong>, <em>italic</em>, <a href="' . $home . '/about-us/">a link</a>, <code>inline code</code>, '
        . '<kbd>Ctrl</kbd>+<kbd>S</kbd>, <mark class="has-inline-color">highlighted</mark>, H<sub>2</sub>O and '
        . 'E=mc<sup>2</sup>, <s>struck</s>.</p>')
    . sb_block('heading', [], '<h2>A second-level heading</h2>')
    . sb_block('heading', ['level' => 3], '<h3>A third-level heading</h3>')
    . sb_block('heading', ['level' => 4], '<h4 id="anchored">A fourth-level heading with an anchor</h4>')
    . sb_block('heading', ['level' => 5], '<h5>A fifth-level heading</h5>')
    . sb_block('heading', ['level' => 6], '<h6>A sixth-level heading</h6>')
    . sb_block('list', [], "<ul>" . $li('Coffee') . $li('Tea' . "\n" . sb_block('list', [],
        '<ul>' . $li('Green' . "\n" . sb_block('list', ['ordered' => true], '<ol>' . $li('Sencha') . $li('Matcha') . '</ol>'))
        . $li('Black') . '</ul>')) . $li('Water') . '</ul>')
    . sb_block('list', ['ordered' => true, 'start' => 3, 'reversed' => true],
        '<ol reversed start="3">' . $li('Three') . $li('Two') . $li('One') . '</ol>')
    . sb_block('quote', [], "<blockquote class=\"wp-block-quote\">\n" . $para('A quote in two paragraphs.')
        . $para('Its second paragraph.') . '<cite>Someone Quotable</cite></blockquote>')
    . sb_block('pullquote', [], '<figure class="wp-block-pullquote"><blockquote><p>A pullquote stands out.</p>'
        . '<cite>The Editor</cite></blockquote></figure>')
    . sb_block('code', [], '<pre class="wp-block-code"><code>&lt;?php echo esc_html( "Hello &amp; goodbye" ); ?&gt;'
        . "\n" . 'if (a &lt; b) { return; }</code></pre>')
    . sb_block('preformatted', [], "<pre class=\"wp-block-preformatted\">Preformatted   text\n    keeps  its\tspaces.</pre>")
    . sb_block('verse', [], "<pre class=\"wp-block-verse\">Roses are red,\n  violets are blue,\nblocks are many,\n  and so are you.</pre>")
    . sb_block('table', ['hasFixedLayout' => true], '<figure class="wp-block-table"><table class="has-fixed-layout">'
        . '<thead><tr><th>Drink</th><th>Price</th></tr></thead><tbody><tr><td>Espresso</td><td>2,50 €</td></tr>'
        . '<tr><td>Matcha ☕</td><td>4,00 €</td></tr></tbody><tfoot><tr><td>Total</td><td>6,50 €</td></tr></tfoot>'
        . '</table><figcaption class="wp-element-caption">A table with a header, a footer and a caption</figcaption></figure>')
    . sb_block('separator', [], '<hr class="wp-block-separator has-alpha-channel-opacity"/>')
    . sb_block('spacer', ['height' => '40px'], '<div style="height:40px" aria-hidden="true" class="wp-block-spacer"></div>')
    . "<p>Classic editor text between blocks (a freeform block), with an image in a caption:</p>\n"
    . '[caption id="attachment_' . $img['diagram'] . '" align="alignnone" width="300"]<img class="size-medium wp-image-'
    . $img['diagram'] . '" src="' . $url('diagram', 'medium') . '" alt="Migration diagram" width="300" height="225" />'
    . " The diagram, captioned[/caption]\n\n"
    . sb_block('more', ['customText' => 'Keep reading'], '<!--more Keep reading-->')
    . $para('After the more tag.')
    . sb_block('html', [], '<div class="custom-html"><p>Custom <abbr title="HyperText Markup Language">HTML</abbr>'
        . ' block.</p><details><summary>Open me</summary><p>Hidden until opened.</p></details></div>')
    . sb_block('shortcode', [], '[gallery ids="' . $img['gallery1'] . ',' . $img['gallery2'] . '" columns="2" size="thumbnail" link="file"]')
    . sb_block('text-columns', ['content' => [['children' => 'Left column of the old text-columns block.'],
        ['children' => 'Its right column.']], 'columns' => 2],
        '<div class="wp-block-text-columns alignundefined columns-2"><div class="wp-block-column"><p>Left column of the '
        . 'old text-columns block.</p></div><div class="wp-block-column"><p>Its right column.</p></div></div>')
    // A block of a plugin that is gone: WordPress renders what it saved.
    . sb_block('sandbox-gone/notice', ['tone' => 'info'],
        '<div class="wp-block-sandbox-gone-notice"><p>A block whose plugin was removed.</p></div>');
wp_update_post(wp_slash(['ID' => $every['text'], 'post_content' => $text_content]));

$wp_image = static fn (string $key, string $size, string $alt): string => '<img src="' . $url($key, $size)
    . '" alt="' . $alt . '" class="wp-image-' . $img[$key] . '"/>';
$reusable = sb_post(['post_type' => 'wp_block', 'post_status' => 'publish', 'post_title' => 'Sandbox call to action',
    'post_content' => $para('A reusable block: <a href="' . $home . '/contact/">write to us</a>.')]);
$media_content =
    sb_block('image', ['id' => $img['diagram'], 'sizeSlug' => 'large', 'linkDestination' => 'media'],
        '<figure class="wp-block-image size-large"><a href="' . $url('diagram') . '">' . $wp_image('diagram', 'large', 'Migration diagram')
        . '</a><figcaption class="wp-element-caption">An image block with a caption</figcaption></figure>')
    . sb_block('gallery', ['linkTo' => 'none'], '<figure class="wp-block-gallery has-nested-images columns-default is-cropped">'
        . sb_block('image', ['id' => $img['gallery1'], 'sizeSlug' => 'large', 'linkDestination' => 'none'],
            '<figure class="wp-block-image size-large">' . $wp_image('gallery1', 'large', 'Gallery one') . '</figure>')
        . sb_block('image', ['id' => $img['gallery2'], 'sizeSlug' => 'large', 'linkDestination' => 'none'],
            '<figure class="wp-block-image size-large">' . $wp_image('gallery2', 'large', 'Gallery two')
            . '<figcaption class="wp-element-caption">Second image</figcaption></figure>')
        . '<figcaption class="blocks-gallery-caption wp-element-caption">A gallery with a caption</figcaption></figure>')
    . sb_block('audio', ['id' => $img['audio']], '<figure class="wp-block-audio"><audio controls src="'
        . $file_url('audio') . '"></audio><figcaption class="wp-element-caption">An audio block</figcaption></figure>')
    . sb_block('video', ['id' => $img['video']], '<figure class="wp-block-video"><video controls poster="'
        . $url('hero', 'medium') . '" src="' . $file_url('video') . '"></video>'
        . '<figcaption class="wp-element-caption">A video block</figcaption></figure>')
    . sb_block('file', ['id' => $img['file'], 'href' => $file_url('file')], '<div class="wp-block-file">'
        . '<a id="wp-block-file--media-sandbox-pdf" href="' . $file_url('file') . '">sandbox-menu.pdf</a>'
        . '<a href="' . $file_url('file') . '" class="wp-block-file__button wp-element-button" download '
        . 'aria-describedby="wp-block-file--media-sandbox-pdf">Download</a></div>')
    . sb_block('media-text', ['mediaId' => $img['gallery2'], 'mediaLink' => $url('gallery2'), 'mediaType' => 'image'],
        '<div class="wp-block-media-text alignwide is-stacked-on-mobile"><figure class="wp-block-media-text__media">'
        . '<img src="' . $url('gallery2') . '" alt="Gallery two" class="wp-image-' . $img['gallery2'] . ' size-full"/></figure>'
        . '<div class="wp-block-media-text__content">' . "\n" . $para('Media and text, side by side.') . '</div></div>')
    . sb_block('cover', ['url' => $url('hero'), 'id' => $img['hero'], 'dimRatio' => 30, 'minHeight' => 200,
        'minHeightUnit' => 'px'],
        '<div class="wp-block-cover" style="min-height:200px"><span aria-hidden="true" class="wp-block-cover__background '
        . 'has-background-dim-30 has-background-dim"></span><img class="wp-block-cover__image-background wp-image-'
        . $img['hero'] . '" alt="" src="' . $url('hero') . '" data-object-fit="cover"/><div class="wp-block-cover__inner-container">'
        . "\n" . $para('A cover with a heading-sized line.') . '</div></div>')
    // Offline, WordPress cannot reach the provider: it renders the bare URL, as a site does
    // when a provider is down.
    . sb_block('embed', ['url' => 'https://vimeo.com/76979871', 'type' => 'video', 'providerNameSlug' => 'vimeo'],
        '<figure class="wp-block-embed is-type-video is-provider-vimeo"><div class="wp-block-embed__wrapper">'
        . "\nhttps://vimeo.com/76979871\n</div><figcaption class=\"wp-element-caption\">An embed block</figcaption></figure>")
    . sb_block('buttons', [], "<div class=\"wp-block-buttons\">\n"
        . sb_block('button', [], '<div class="wp-block-button"><a class="wp-block-button__link wp-element-button" href="'
            . $home . '/contact/">Contact us</a></div>')
        . sb_block('button', ['className' => 'is-style-outline'], '<div class="wp-block-button is-style-outline">'
            . '<a class="wp-block-button__link wp-element-button" href="https://wordpress.org/">WordPress.org</a></div>')
        . '</div>')
    . sb_block('columns', [], "<div class=\"wp-block-columns\">\n"
        . sb_block('column', [], "<div class=\"wp-block-column\">\n" . $para('First column.') . '</div>')
        . sb_block('column', [], "<div class=\"wp-block-column\">\n" . sb_block('image', ['id' => $img['logo'], 'sizeSlug' => 'thumbnail'],
            '<figure class="wp-block-image size-thumbnail">' . $wp_image('logo', 'thumbnail', 'Sandbox logo') . '</figure>') . '</div>')
        . sb_block('column', [], "<div class=\"wp-block-column\">\n" . $para('Third column.') . '</div>')
        . '</div>')
    . sb_block('group', ['backgroundColor' => 'tertiary', 'layout' => ['type' => 'constrained']],
        "<div class=\"wp-block-group has-tertiary-background-color has-background\">\n" . $para('A group with a background.') . '</div>')
    . sb_block('group', ['layout' => ['type' => 'flex', 'flexWrap' => 'nowrap']],
        "<div class=\"wp-block-group\">\n" . $para('A row:') . $para('side') . $para('by side.') . '</div>')
    . sb_block('separator', ['className' => 'is-style-dots'], '<hr class="wp-block-separator has-alpha-channel-opacity is-style-dots"/>')
    . sb_block('social-links', [], "<ul class=\"wp-block-social-links\">"
        . "<!-- wp:social-link {\"url\":\"https://wordpress.org/\",\"service\":\"wordpress\"} /-->\n"
        . "<!-- wp:social-link {\"url\":\"https://mastodon.social/@sandbox\",\"service\":\"mastodon\"} /-->\n</ul>")
    . "<!-- wp:block {\"ref\":$reusable} /-->\n\n";
wp_update_post(wp_slash(['ID' => $every['media'], 'post_content' => $media_content]));

// Dynamic blocks, rendered by WordPress at every view. The RSS feed is one WordPress
// refuses to fetch (a port other than the site's on a loopback address): it renders its
// error at once, with no network.
$dynamic_content =
    $para('Blocks WordPress renders on each view:')
    . "<!-- wp:latest-posts {\"postsToShow\":3,\"displayPostDate\":true} /-->\n\n"
    . "<!-- wp:latest-comments {\"commentsToShow\":3,\"displayAvatar\":false} /-->\n\n"
    . "<!-- wp:archives {\"showPostCounts\":true} /-->\n\n"
    . "<!-- wp:categories {\"showPostCounts\":true,\"showHierarchy\":true} /-->\n\n"
    . "<!-- wp:tag-cloud {\"taxonomy\":\"category\"} /-->\n\n"
    . "<!-- wp:calendar /-->\n\n"
    . "<!-- wp:page-list /-->\n\n"
    . "<!-- wp:search {\"label\":\"Search the sandbox\",\"buttonText\":\"Find\"} /-->\n\n"
    . "<!-- wp:rss {\"feedURL\":\"http://127.0.0.1:1/feed/\",\"itemsToShow\":2} /-->\n\n"
    . "<!-- wp:loginout /-->\n\n"
    . sb_block('nextpage', [], '<!--nextpage-->')
    . $para('The second page of a paginated post.');
wp_update_post(wp_slash(['ID' => $every['dynamic'], 'post_content' => $dynamic_content]));
$facts['block_posts'] = $every + ['reusable_block' => $reusable];
foreach (['audio', 'file', 'video'] as $key) {
    $facts['media'][$key] = ['id' => $img[$key], 'file' => get_post_meta($img[$key], '_wp_attached_file', true),
        'sizes' => []];
}

// Not published: none of these may show up publicly, all of them must be migrated.
$hidden = [
    'draft' => sb_post(['post_title' => 'Draft: upcoming launch', 'post_status' => 'draft',
        'post_content' => "<p>Not yet. Preview at $home/?p=draft</p>"]),
    'pending' => sb_post(['post_title' => 'Pending review', 'post_status' => 'pending',
        'post_author' => $users['contrib_carl'], 'post_content' => '<p>Waiting for an editor.</p>']),
    'private' => sb_post(['post_title' => 'Private: internal notes', 'post_status' => 'private',
        'post_content' => "<p>Admin only. Server path: " . ABSPATH . '</p>']),
    'future' => sb_post(['post_title' => 'Scheduled for 2030', 'post_status' => 'future',
        'post_date' => '2030-01-01 00:00:00', 'post_content' => '<p>From the future.</p>']),
    'trash' => sb_post(['post_title' => 'Trashed post', 'post_status' => 'publish',
        'post_content' => '<p>Deleted.</p>']),
    'page_draft' => sb_post(['post_type' => 'page', 'post_title' => 'Draft page', 'post_status' => 'draft',
        'post_parent' => $about]),
];
wp_trash_post($hidden['trash']);
$facts['posts'] = ['showcase' => $showcase, 'cafe' => $cafe, 'tips' => $tips] + $hidden;

// ---------------------------------------------------------------- comments
$c = static fn (array $data) => wp_insert_comment($data + ['comment_post_ID' => $showcase,
    'comment_approved' => 1, 'comment_date' => '2021-03-16 12:00:00']);
$top = $c(['comment_author' => 'Visitor Vera', 'comment_author_email' => 'vera@example.test',
    'comment_author_url' => 'https://vera.example.test/', 'comment_content' => 'Great post! 👍']);
$facts['comments'] = [
    'top' => $top,
    'reply' => $c(['comment_parent' => $top, 'user_id' => $users['editor_ed'], 'comment_author' => 'Ed Itor',
        'comment_author_email' => 'editor_ed@example.test',
        'comment_content' => "Thanks! See also <a href=\"$home/about-us/\">about us</a>."]),
    'multibyte' => $c(['comment_post_ID' => $cafe, 'comment_author' => '田中',
        'comment_content' => '素晴らしい記事です ☕🍰']),
    'pending' => $c(['comment_author' => 'Unsure', 'comment_content' => 'Awaiting moderation', 'comment_approved' => 0]),
    'spam' => $c(['comment_author' => 'Spammer', 'comment_content' => 'Buy now', 'comment_approved' => 'spam']),
];

// ---------------------------------------------------------------- menu
$menu = wp_create_nav_menu('Main Menu');
wp_update_nav_menu_item($menu, 0, ['menu-item-title' => 'Home', 'menu-item-url' => "$home/",
    'menu-item-type' => 'custom', 'menu-item-status' => 'publish']);
wp_update_nav_menu_item($menu, 0, ['menu-item-object-id' => $about, 'menu-item-object' => 'page',
    'menu-item-type' => 'post_type', 'menu-item-status' => 'publish']);
wp_update_nav_menu_item($menu, 0, ['menu-item-title' => 'Contact ✉', 'menu-item-url' => "$home/contact/",
    'menu-item-type' => 'custom', 'menu-item-status' => 'publish']);

// ---------------------------------------------------------------- theme, plugin
// The classic source (build.up_classic_source) wears a classic theme instead.
switch_theme(getenv('WPSB_THEME') ?: 'sandbox-child');
set_theme_mod('nav_menu_locations', ['primary' => $menu]);
set_theme_mod('custom_logo', $img['logo']);
set_theme_mod('header_image', $url('hero', 'large'));
set_theme_mod('background_image', $proto_relative);
update_option('active_plugins', ['sandbox-plugin/sandbox-plugin.php']);

// ---------------------------------------------------------------- options
update_option('blogdescription', 'Just another sandbox ☕ サイト');
// update_option() serializes a string that is already serialized once more, so the row
// holds serialize(serialize([...])): a serialized string inside a serialized value.
update_option('sandbox_nested_serialized', serialize(['home' => "$home/", 'logo' => $url('logo'),
    'title' => 'Café ☕ 東京']));
update_option('sandbox_nested_in_array', ['label' => 'inner', 'payload' => serialize(['url' => "$home/contact/",
    'note' => 'Grüße 🚀', 'deeper' => serialize(['img' => $url('hero', 'thumbnail')])])]);
update_option('sandbox_multibyte', ['greeting' => 'こんにちは世界 🌏', 'url' => "$home/東京/",
    'note' => 'Ünïcödé ☕', 'emoji' => '👩‍👩‍👧‍👦']);
update_option('sandbox_plugin_settings', [
    'home' => $home,
    'api_endpoint' => "$home/wp-json/sandbox/v1",
    'share_url' => $share,
    'abspath' => ABSPATH,
    'cache_dir' => WP_CONTENT_DIR . '/cache/sandbox',
    'log_file' => WP_CONTENT_DIR . '/uploads/sandbox.log',
]);
update_option('sandbox_json_option', json_encode(['home' => "$home/", 'logo' => $url('logo')]));
update_option('sandbox_legacy_object', new Legacy_Settings("$home/wp-json/legacy/v1", WP_CONTENT_DIR . '/cache/legacy'), false);
update_option('recently_edited', [WP_CONTENT_DIR . '/themes/sandbox-child/style.css',
    WP_CONTENT_DIR . '/plugins/sandbox-plugin/sandbox-plugin.php']);
update_option('widget_text', [2 => ['title' => 'Find us ☕', 'text' => "<a href=\"$home/contact/\">Contact</a> <img src=\""
    . $url('logo', 'thumbnail') . '">', 'filter' => true, 'visual' => true], '_multiwidget' => 1]);
update_option('widget_block', [3 => ['content' => "<!-- wp:paragraph --><p>Visit <a href=\"$home/about-us/\">us</a>"
    . ' 東京 🚀</p><!-- /wp:paragraph -->'], '_multiwidget' => 1]);
update_option('sidebars_widgets', ['wp_inactive_widgets' => ['missing_widget-2'],
    'sidebar-1' => ['text-2', 'block-3'], 'array_version' => 3]);

// An object of a class that is not loaded anywhere, written by hand as a plugin that has
// since been removed would have left it. Built from a stdClass so byte lengths are right.
$missing = preg_replace('/^O:8:"stdClass"/', 'O:14:"Missing_Widget"', serialize((object) [
    'title' => 'Legacy widget ☕ 東京',
    'url' => $url('gallery1', 'medium'),
]));
global $wpdb;
$wpdb->insert($wpdb->options, ['option_name' => 'sandbox_missing_object', 'option_value' => $missing,
    'autoload' => 'yes']);
$wpdb->insert($wpdb->options, ['option_name' => 'widget_missing_widget',
    'option_value' => 'a:2:{i:2;' . $missing . 's:12:"_multiwidget";i:1;}', 'autoload' => 'yes']);
$facts['tricky_options'] = ['sandbox_nested_serialized', 'sandbox_nested_in_array', 'sandbox_multibyte',
    'sandbox_plugin_settings', 'sandbox_json_option', 'sandbox_legacy_object', 'sandbox_missing_object',
    'widget_missing_widget', 'widget_text', 'widget_block', 'recently_edited', 'theme_mods_sandbox-child'];
$facts['abspath'] = ABSPATH;

// ================================================================ Mode A: URL forms (issue 10)
// Every spelling of the site URL the Mode A rewrite and its old-origin scan must handle,
// in widgets, options and postmeta. Only in the main source (build.py sets
// WPSB_URL_FORMS=1): the ssh and admin sources migrate with default options, which leave
// URLs in serialized array keys as they are. Kept apart from the Mode B seed blocks.
// The host here is an IP (127.0.0.1:PORT), so upper-case and IDN host names cannot be
// seeded; the upper-case scheme can.
function sb_seed_url_forms(string $home, int $post): array
{
    global $wpdb;
    $u002F = static fn (string $s): string => str_replace('/', '\u002F', $s);
    $u002f = static fn (string $s): string => str_replace('/', '\u002f', $s);
    $json = static fn (string $s): string => str_replace('/', '\/', $s);
    $upper = strtoupper($home);                                         // HTTP://127.0.0.1:PORT
    $proto_relative = preg_replace('#^https?:#', '', $home);            // //127.0.0.1:PORT

    // A widget's JSON with "\u002F", a legal JSON escape of "/" that some encoders emit
    // (not placed in a sidebar: nothing shows publicly).
    update_option('widget_custom_html', [5 => ['title' => 'Map', 'content' => '<div data-config=\'{"url":"'
        . $u002F("$home/contact/") . '","tiles":"' . $u002F("$proto_relative/wp-content/uploads/tiles/")
        . '"}\'></div>'], '_multiwidget' => 1]);
    // An option holding JSON text with "\u002f" (lower-case hex) and "\u002F".
    update_option('sandbox_json_u002f', '{"home":"' . $u002f("$home/") . '","logo":"'
        . $u002F("$home/wp-content/uploads/logo.png") . '"}');
    // Postmeta JSON: "\u002F", and JSON inside a JSON string ("\\\/", page builders).
    update_post_meta($post, '_sandbox_json_u002F', wp_slash('{"link":"' . $u002F("$home/about-us/") . '"}'));
    update_post_meta($post, '_sandbox_json_in_json', wp_slash(json_encode(['inner' => json_encode(['u' => "$home/x/"])])));
    // URL-encoded: urlencode, rawurlencode, lower-case hex.
    update_post_meta($post, '_sandbox_urlencoded', 'share=' . urlencode("$home/a b/") . '&raw='
        . rawurlencode("$home/a b~/") . '&lower=' . strtolower(rawurlencode("$home/")));
    // Upper-case scheme (and host, as far as an IP has one), plain, JSON-escaped, serialized.
    update_post_meta($post, '_sandbox_upper_case', "<a href=\"$upper/about-us/\">ABOUT</a> "
        . ucfirst(strtolower($home)) . '/x');
    update_option('sandbox_upper_case', ['link' => "$upper/contact/", 'json' => $json("$upper/")]);
    // Looks serialized but does not parse (a wrong length, as a bad search-replace leaves
    // it): written as it is, past update_*'s serialization.
    $broken = 's:2:"' . $home . '/";';
    $wpdb->insert($wpdb->postmeta, ['post_id' => $post, 'meta_key' => '_sandbox_broken_serialized',
        'meta_value' => $broken]);
    $wpdb->insert($wpdb->options, ['option_name' => 'sandbox_broken_serialized',
        'option_value' => 'a:1:{i:0;' . $broken . '}', 'autoload' => 'no']);
    // URLs as serialized array keys (rewritten only with options.rewrite_serialized_keys).
    update_option('sandbox_url_keys', ["$home/about-us/" => 'About', "$home/contact/" => ['clicks' => 3]]);
    return [
        'options' => ['widget_custom_html', 'sandbox_json_u002f', 'sandbox_upper_case',
            'sandbox_broken_serialized', 'sandbox_url_keys'],
        'postmeta' => ['_sandbox_json_u002F', '_sandbox_json_in_json', '_sandbox_urlencoded',
            '_sandbox_upper_case', '_sandbox_broken_serialized'],
        'broken_serialized' => ['options' => ['sandbox_broken_serialized'],
            'postmeta' => ['_sandbox_broken_serialized']],
        'array_keys' => ['sandbox_url_keys'],
        'post' => $post,
    ];
}

if (getenv('WPSB_URL_FORMS') === '1') {
    $facts['url_forms'] = sb_seed_url_forms($home, $showcase);
}
// ================================================================ end of Mode A URL forms

wpsb_result($facts);
