<?php
defined('ABSPATH') || exit;

function sandbox_helper_contact(): string
{
    return '<p class="sandbox-contact">Write to us: <a href="' . esc_url(home_url('/contact/')) . '">contact</a></p>';
}
