<?php
/*
 * berth/wordpress: installed as /etc/wordpress/config-default.php.
 *
 * Debian's /usr/share/wordpress/wp-config.php includes
 * /etc/wordpress/config-<host>.php and falls back to this file; the image
 * ships no per-host file, so this one configures every request. It gives the
 * official wordpress image's environment contract:
 *
 *   WORDPRESS_DB_HOST (host[:port], default mysql), WORDPRESS_DB_USER,
 *   WORDPRESS_DB_PASSWORD, WORDPRESS_DB_NAME (default wordpress),
 *   WORDPRESS_DB_CHARSET (utf8), WORDPRESS_DB_COLLATE, WORDPRESS_TABLE_PREFIX
 *   (wp_), WORDPRESS_DEBUG, WORDPRESS_CONFIG_EXTRA (PHP code, evaluated),
 *   WORDPRESS_AUTH_KEY ... WORDPRESS_NONCE_SALT.
 *   Each may also be given as NAME_FILE (a file holding the value).
 *
 * Salts: a WORDPRESS_*_KEY / *_SALT variable wins; otherwise the value is
 * derived (HMAC-SHA256) from wp-content/.berth-secret, 32 random bytes that the
 * entrypoint (or the first request) writes once per site, so logins survive
 * restarts and image upgrades and no two sites share keys.
 *
 * URLs: WP_HOME and WP_SITEURL follow the request's Host header, so the site
 * answers on whatever domain the edge routes to it; X-Forwarded-Proto: https
 * from the edge turns on HTTPS. Requests without a usable Host (CLI, cron)
 * use the home/siteurl options stored at installation.
 */

if (!function_exists('berth_getenv')) {
	/** The official image's getenv_docker(): NAME_FILE, then NAME, then the default. */
	function berth_getenv($name, $default = null)
	{
		$file = getenv($name . '_FILE');
		if ($file !== false && $file !== '') {
			$value = file_get_contents($file);
			if ($value !== false) {
				return rtrim($value, "\r\n");
			}
			error_log("berth: cannot read {$name}_FILE ($file)");
		}
		$value = getenv($name);
		return $value === false ? $default : $value;
	}

	/**
	 * The site's secret, 64 hex digits from WP_CONTENT/.berth-secret, created
	 * atomically (write a temporary file, link it into place) when missing.
	 */
	function berth_site_secret($dir)
	{
		$path = $dir . '/.berth-secret';
		$secret = @file_get_contents($path);
		if ($secret !== false && strlen(trim($secret)) >= 32) {
			return trim($secret);
		}
		$tmp = @tempnam($dir, '.berth-secret.');
		if ($tmp !== false) {
			@chmod($tmp, 0600);
			if (@file_put_contents($tmp, bin2hex(random_bytes(32)) . "\n") !== false) {
				@link($tmp, $path); // fails when another process was first: fine
			}
			@unlink($tmp);
			$secret = @file_get_contents($path);
			if ($secret !== false && strlen(trim($secret)) >= 32) {
				return trim($secret);
			}
		}
		// wp-content is not writable: still stable and not public, but shared
		// by everything that knows the database password.
		error_log("berth: cannot create $path; deriving the salts from the database credentials");
		return hash('sha256', 'berth-salt|' . DB_HOST . '|' . DB_NAME . '|' . DB_USER . '|' . DB_PASSWORD);
	}
}

$berth_content_dir = '/var/www/html/wp-content';

/* X-Forwarded-Proto from the edge proxy. */
if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && strpos($_SERVER['HTTP_X_FORWARDED_PROTO'], 'https') !== false) {
	$_SERVER['HTTPS'] = 'on';
}

define('DB_NAME', berth_getenv('WORDPRESS_DB_NAME', 'wordpress'));
define('DB_USER', berth_getenv('WORDPRESS_DB_USER', 'example username'));
define('DB_PASSWORD', berth_getenv('WORDPRESS_DB_PASSWORD', 'example password'));
define('DB_HOST', berth_getenv('WORDPRESS_DB_HOST', 'mysql'));
define('DB_CHARSET', berth_getenv('WORDPRESS_DB_CHARSET', 'utf8'));
define('DB_COLLATE', berth_getenv('WORDPRESS_DB_COLLATE', ''));

$berth_secret = null;
foreach (array('AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
	'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT') as $berth_key) {
	$berth_value = berth_getenv('WORDPRESS_' . $berth_key, '');
	if ($berth_value === '') {
		if ($berth_secret === null) {
			$berth_secret = berth_site_secret($berth_content_dir);
		}
		$berth_value = hash_hmac('sha256', $berth_key, $berth_secret);
	}
	define($berth_key, $berth_value);
}
unset($berth_secret, $berth_key, $berth_value);

$table_prefix = berth_getenv('WORDPRESS_TABLE_PREFIX', 'wp_');

define('WP_DEBUG', (bool) berth_getenv('WORDPRESS_DEBUG', ''));

/* Like the official image: evaluated after the settings above, so it may
 * define WP_HOME, WP_SITEURL and anything else below. */
if ($berth_extra = berth_getenv('WORDPRESS_CONFIG_EXTRA', '')) {
	eval($berth_extra);
}
unset($berth_extra);

if (!defined('WP_CONTENT_DIR')) {
	define('WP_CONTENT_DIR', $berth_content_dir);
}

/* The site's URL from the request: any domain routed here works. */
if (!defined('WP_HOME') && !defined('WP_SITEURL') && isset($_SERVER['HTTP_HOST'])
	&& preg_match('/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/', $_SERVER['HTTP_HOST'])) {
	$berth_scheme = (!empty($_SERVER['HTTPS']) && strtolower($_SERVER['HTTPS']) !== 'off') ? 'https' : 'http';
	define('WP_HOME', $berth_scheme . '://' . strtolower($_SERVER['HTTP_HOST']));
	define('WP_SITEURL', WP_HOME);
	unset($berth_scheme);
}

/* Core is Debian's (read-only, updated with the image); plugins and themes
 * in wp-content are installed by the web server's user directly. */
if (!defined('FS_METHOD')) {
	define('FS_METHOD', 'direct');
}
if (!defined('WP_AUTO_UPDATE_CORE')) {
	define('WP_AUTO_UPDATE_CORE', false);
}
unset($berth_content_dir);
