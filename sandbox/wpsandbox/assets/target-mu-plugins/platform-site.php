<?php
/**
 * Plugin Name: Platform site (sandbox stand-in)
 * Description: What the hosting platform adds to every site it runs. The platform's
 * contract, stood in by the sandbox: its Sites API activates a theme with
 * `PUT /wp-json/wp/v2/themes/{stylesheet}` and `{"status": "active"}` (WordPress 6.1 core
 * can only read themes over REST).
 */

defined( 'ABSPATH' ) || exit;

add_action(
	'rest_api_init',
	function () {
		// Same namespace and route pattern as core's themes controller: the edit endpoint is
		// merged into core's route, so core's GET handler and schema stay as they are.
		register_rest_route(
			'wp/v2',
			sprintf( '/themes/(?P<stylesheet>%s)', WP_REST_Themes_Controller::PATTERN ),
			array(
				'methods'             => 'POST, PUT, PATCH',
				'callback'            => 'platform_site_activate_theme',
				'permission_callback' => function () {
					return current_user_can( 'switch_themes' );
				},
				'args'                => array(
					'stylesheet' => array(
						'type'              => 'string',
						// As core: a child theme's slash arrives encoded.
						'sanitize_callback' => function ( $value ) {
							return urldecode( $value );
						},
					),
					'status'     => array(
						'type'     => 'string',
						'enum'     => array( 'active' ),
						'required' => true,
					),
				),
			)
		);
	},
	100 // After core's routes (priority 99), so this endpoint joins core's route.
);

/**
 * Activates the theme (a no-op when it already is) and answers as core's GET would.
 */
function platform_site_activate_theme( WP_REST_Request $request ) {
	$theme = wp_get_theme( $request['stylesheet'] );
	if ( ! $theme->exists() ) {
		return new WP_Error( 'rest_theme_not_found', 'Theme not found.', array( 'status' => 404 ) );
	}
	if ( $theme->errors() || ! $theme->is_allowed() ) {
		return new WP_Error( 'rest_theme_not_allowed', 'This theme cannot be activated.', array( 'status' => 400 ) );
	}
	if ( get_stylesheet() !== $theme->get_stylesheet() ) {
		switch_theme( $theme->get_stylesheet() );
	}
	$controller = new WP_REST_Themes_Controller();
	return $controller->prepare_item_for_response( wp_get_theme( $theme->get_stylesheet() ), $request );
}

/**
 * Sandbox switch (tests only): the target refuses, on purpose, a page or post whose slug is
 * `wpm-refused-by-target`, as a platform policy or a security plugin would refuse one item.
 * The answer is a REST error like core's (status 422, code `platform_content_refused`), so
 * a migration has to record that one item with the target's reason and carry on.
 */
const PLATFORM_SITE_REFUSED_SLUG = 'wpm-refused-by-target';

function platform_site_refuse_marked( $prepared, WP_REST_Request $request ) {
	$slug = isset( $request['slug'] ) ? (string) $request['slug'] : '';
	if ( '' === $slug && ! empty( $prepared->ID ) ) {
		$slug = (string) get_post_field( 'post_name', $prepared->ID );
	}
	if ( PLATFORM_SITE_REFUSED_SLUG === $slug ) {
		return new WP_Error(
			'platform_content_refused',
			'The platform refuses this item (sandbox switch: slug ' . PLATFORM_SITE_REFUSED_SLUG . ').',
			array( 'status' => 422 )
		);
	}
	return $prepared;
}
add_filter( 'rest_pre_insert_post', 'platform_site_refuse_marked', 10, 2 );
add_filter( 'rest_pre_insert_page', 'platform_site_refuse_marked', 10, 2 );

/**
 * The platform's settings call (seed 002 §4.4, "Update Site Options", through
 * `/wp-json/wp/v2/settings`) also sets the permalink structure, which core keeps out of its
 * REST settings: a migration gives the target the source's structure, so every post answers
 * at the path it had. The value is checked as core's Permalinks screen checks it.
 */
add_action(
	'rest_api_init',
	function () {
		register_setting(
			'permalink',
			'permalink_structure',
			array(
				'type'         => 'string',
				'description'  => 'The permalink structure (empty: plain links).',
				'show_in_rest' => array(
					'name'   => 'permalink_structure',
					// Empty (plain links) or a path holding %postname% or %post_id%, as core's
					// Permalinks screen allows; core's sanitize_option() cleans the rest.
					'schema' => array( 'pattern' => '^(|/.*%(postname|post_id)%.*)$' ),
				),
			)
		);
	}
);

// New rules at once: the next request to a post's old path must find it.
add_action(
	'update_option_permalink_structure',
	function () {
		delete_option( 'rewrite_rules' );
	}
);
