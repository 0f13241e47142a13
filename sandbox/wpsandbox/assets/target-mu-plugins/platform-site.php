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

/**
 * The platform's media placement (docs/platform-contract.md): a migration keeps every media
 * URL the source had, so an upload may name its place under the uploads folder.
 *
 * `POST /wp-json/wp/v2/media?platform_path=2008/06/x.jpg` (core's upload otherwise) stores
 * the file at exactly that path when it is free, and generates no sub-sizes, no scaled and
 * no rotated copy: the migration brings the source's own size files with the next call.
 * When the path is taken, core's unique name in the same folder is used (the attachment's
 * `source_url` then says where it went).
 */
function platform_site_relative_path( $value ) {
	$value = (string) $value;
	if ( '' === $value || strlen( $value ) > 1024 || preg_match( '#[\x00-\x1f\\\\]#', $value ) ) {
		return null;
	}
	foreach ( explode( '/', $value ) as $part ) {
		if ( '' === $part || '.' === $part || '..' === $part ) {
			return null;
		}
	}
	return $value;
}

add_filter(
	'rest_request_before_callbacks',
	function ( $response, $handler, WP_REST_Request $request ) {
		if ( 'POST' !== $request->get_method() || '/wp/v2/media' !== $request->get_route()
			|| null === $request->get_param( 'platform_path' ) ) {
			return $response;
		}
		$path = platform_site_relative_path( $request->get_param( 'platform_path' ) );
		if ( null === $path ) {
			return new WP_Error( 'platform_invalid_path', 'platform_path must be a relative path inside the uploads folder.', array( 'status' => 400 ) );
		}
		$folder = dirname( $path );
		$name   = basename( $path );
		add_filter(
			'upload_dir',
			function ( $dirs ) use ( $folder ) {
				$subdir         = '.' === $folder ? '' : '/' . $folder;
				$dirs['subdir'] = $subdir;
				$dirs['path']   = $dirs['basedir'] . $subdir;
				$dirs['url']    = $dirs['baseurl'] . $subdir;
				return $dirs;
			}
		);
		add_filter(
			'wp_unique_filename',
			function ( $filename, $ext, $dir ) use ( $name ) {
				// Only the exact, free, already-clean name; anything else keeps core's choice.
				if ( sanitize_file_name( $name ) === $name && ! file_exists( $dir . '/' . $name ) ) {
					return $name;
				}
				return $filename;
			},
			10,
			3
		);
		add_filter( 'intermediate_image_sizes_advanced', '__return_empty_array', 100 );
		add_filter( 'fallback_intermediate_image_sizes', '__return_empty_array', 100 );
		add_filter( 'big_image_size_threshold', '__return_false', 100 );
		add_filter( 'wp_image_maybe_exif_rotate', '__return_false', 100 );
		return $response;
	},
	10,
	3
);

/**
 * `POST /wp-json/wp/v2/media/{id}/sizes?size=medium&width=300&height=200` with the file as
 * the body (Content-Disposition names it) adds one size file of an image attachment: stored
 * next to the attachment's file under that exact name, and recorded in its metadata as that
 * size, as WordPress would have generated it. Answers with the attachment (edit context).
 * The same file again is a no-op; another file under a taken name or size is a 409.
 */
add_action(
	'rest_api_init',
	function () {
		register_rest_route(
			'wp/v2',
			'/media/(?P<id>\d+)/sizes',
			array(
				'methods'             => 'POST',
				'callback'            => 'platform_site_add_image_size',
				'permission_callback' => function ( WP_REST_Request $request ) {
					return current_user_can( 'upload_files' ) && current_user_can( 'edit_post', (int) $request['id'] );
				},
				'args'                => array(
					'size'   => array( 'type' => 'string', 'required' => true, 'pattern' => '^[A-Za-z0-9_-]{1,64}$' ),
					'width'  => array( 'type' => 'integer', 'minimum' => 1 ),
					'height' => array( 'type' => 'integer', 'minimum' => 1 ),
				),
			)
		);
	}
);

function platform_site_add_image_size( WP_REST_Request $request ) {
	$id = (int) $request['id'];
	if ( 'attachment' !== get_post_type( $id ) || ! wp_attachment_is_image( $id ) ) {
		return new WP_Error( 'rest_post_invalid_id', 'Not an image attachment.', array( 'status' => 404 ) );
	}
	$disposition = $request->get_header( 'content_disposition' );
	$name        = $disposition ? WP_REST_Attachments_Controller::get_filename_from_disposition( array( $disposition ) ) : '';
	if ( ! $name || sanitize_file_name( $name ) !== $name ) {
		return new WP_Error( 'platform_invalid_name', 'The size file needs a clean file name (Content-Disposition).', array( 'status' => 400 ) );
	}
	$body = $request->get_body();
	if ( '' === $body ) {
		return new WP_Error( 'rest_upload_no_data', 'No data supplied.', array( 'status' => 400 ) );
	}
	$attached = get_attached_file( $id );
	$dest     = dirname( $attached ) . '/' . $name;
	$meta     = wp_get_attachment_metadata( $id );
	$meta     = is_array( $meta ) ? $meta : array();
	$size     = $request['size'];
	$current  = $meta['sizes'][ $size ]['file'] ?? null;
	if ( null !== $current && $current !== $name ) {
		return new WP_Error( 'platform_size_exists', "Size $size already names another file.", array( 'status' => 409 ) );
	}
	$request->set_param( 'context', 'edit' );
	$controller = new WP_REST_Attachments_Controller( 'attachment' );
	if ( file_exists( $dest ) ) {
		if ( sha1_file( $dest ) !== sha1( $body ) || realpath( $dest ) === realpath( $attached ) ) {
			return new WP_Error( 'platform_path_taken', "$name is already taken in that folder.", array( 'status' => 409 ) );
		}
		if ( $current === $name ) {
			return $controller->prepare_item_for_response( get_post( $id ), $request );  // a retry
		}
		// The same bytes, left by a call interrupted before it recorded them: record them now.
	}
	require_once ABSPATH . 'wp-admin/includes/file.php';
	$tmp = wp_tempnam( $name );
	file_put_contents( $tmp, $body );
	$check = wp_check_filetype_and_ext( $tmp, $name );
	$info  = @getimagesize( $tmp );
	if ( ! $check['type'] || ! $info || 0 !== strpos( $check['type'], 'image/' ) ) {
		unlink( $tmp );
		return new WP_Error( 'rest_upload_sniffed_bad_type', 'The size file is not an image this site accepts.', array( 'status' => 400 ) );
	}
	if ( ! @rename( $tmp, $dest ) ) {
		unlink( $tmp );
		return new WP_Error( 'platform_write_failed', 'Could not store the size file.', array( 'status' => 500 ) );
	}
	chmod( $dest, 0644 );
	$meta['sizes']          = $meta['sizes'] ?? array();
	$meta['sizes'][ $size ] = array(
		'file'      => $name,
		'width'     => (int) $info[0],
		'height'    => (int) $info[1],
		'mime-type' => $check['type'],
		'filesize'  => strlen( $body ),
	);
	wp_update_attachment_metadata( $id, $meta );
	return $controller->prepare_item_for_response( get_post( $id ), $request );
}
