<?php
add_action('wp_enqueue_scripts', static function (): void {
    wp_enqueue_style('sandbox-child', get_stylesheet_uri(), [], '1.0.0');
});
