<?php
// Turns a fresh install into a "platform" site: platform options and an application
// password for the platform's service user.
// Env: WPSB_DOCROOT WPSB_URL WPSB_SERVICE_USER WPSB_SITE_ID
require __DIR__ . '/bootstrap.php';

$docroot = wpsb_env('WPSB_DOCROOT');
wpsb_fake_request(wpsb_env('WPSB_URL'));
require $docroot . '/wp-load.php';

$user = get_user_by('login', wpsb_env('WPSB_SERVICE_USER'));
if (!$user) {
    fwrite(STDERR, "service user not found\n");
    exit(1);
}
wp_set_current_user($user->ID);
update_user_meta($user->ID, 'platform_service_account', '1');

update_option('platform_site_id', wpsb_env('WPSB_SITE_ID'));
update_option('platform_plan', 'business');
update_option('platform_managed', ['backups' => true, 'cdn' => false, 'region' => 'eu-central-1']);
update_option('blogdescription', 'A site of the hosting platform');

[$app_password, $item] = WP_Application_Passwords::create_new_application_password(
    $user->ID,
    ['name' => 'wpmigrate']
);

wpsb_result([
    'user_id' => $user->ID,
    'app_password' => $app_password,
    'app_password_uuid' => $item['uuid'],
]);
