/* Generated from schemas/*.json by `npm run gen:types` (json-schema-to-typescript). Do not edit by hand. */

/**
 * One hdactl app: a Docker container, and for web apps an Apache vhost <hostname>.<domain> proxied to host port portBase + id.
 */
export interface AppManifest {
  /**
   * The app's identifier and its container's name (Amahi's APP_IDENTIFIER). A DNS label: lower-case letters, digits and '-', 2 to 32 characters, starting with a letter.
   */
  app: string;
  /**
   * The app's kind in Amahi: container, or container-<name> (lower-case letters and digits) to pick the vhost template templates/<kind>.conf when one exists (else templates/container.conf).
   */
  kind: string;
  /**
   * A Docker image reference, [registry/]name[:tag][@digest], with the name in lower case. Pulled before create when missing locally.
   */
  image: string;
  /**
   * Host name of the vhost, <hostname>.<domain> (Amahi's APP_HOSTNAME). Defaults to the app's name.
   */
  hostname?: string;
  /**
   * Extra DNS names that reach the app through its vhost; each becomes a ServerAlias line.
   *
   * Items: An extra DNS name in lower case, such as nzb.example.org or *.example.org: letters, digits and '-', between dots.
   */
  aliases?: string[];
  /**
   * The container port that serves the app's web interface. It is published on 127.0.0.1:<portBase + id> and proxied by Apache. Absent: a headless app with no vhost.
   */
  web?: number;
  /**
   * Extra published ports, in Compose short syntax [ADDRESS:]HOST:CONTAINER[/PROTOCOL] or as objects.
   *
   * Items: An extra published port: [ADDRESS:]HOST:CONTAINER[/tcp|/udp], such as 2224:22 or 127.0.0.1:5353:53/udp, one port per entry (ranges are not supported), or a mapping {host, container, protocol, address}.
   */
  ports?: (string | PortMapping)[];
  /**
   * Bind mounts in Compose short syntax SRC:DST[:ro|:rw]. A relative SRC (./config) lives under <dataRoot>/<app>/ and is created if missing; an absolute SRC must be allowed by the volume policy in hdactl.yaml.
   *
   * Items: A bind mount SRC:DST[:ro|:rw], such as ./config:/config or /srv/photos:/photos:ro, with DST an absolute path in the container. A relative SRC lives under <dataRoot>/<app>/.
   */
  volumes?: string[];
  /**
   * Environment variables. ${APP_IDENTIFIER}, ${APP_HOSTNAME} and ${HOST_PORT} in values are substituted.
   */
  env?: {
    [k: string]: string | number | boolean;
  };
  /**
   * Arguments passed to the image's entrypoint, replacing its default command.
   */
  command?: string[];
  limits?: Limits;
  /**
   * The Engine's restart policy.
   */
  restart?: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  /**
   * Run Docker's init as PID 1, so that the app receives SIGTERM and stops quickly (many images ignore TERM as PID 1).
   */
  init?: boolean;
  /**
   * Grace period before the Engine kills the app on stop or recreate: a duration such as 10s, 2m or 500ms.
   */
  stopTimeout?: string;
  /**
   * running (default), or stopped: the app stays installed with its container stopped.
   */
  state?: 'running' | 'stopped';
}
/**
 * One published port.
 */
export interface PortMapping {
  /**
   * Port on the host.
   */
  host: number;
  /**
   * Port in the container.
   */
  container: number;
  /**
   * tcp (default) or udp.
   */
  protocol?: 'tcp' | 'udp';
  /**
   * Host address to bind; default 0.0.0.0.
   */
  address?: string;
}
/**
 * Resource limits, changed live through the Engine's update API without restarting the app.
 */
export interface Limits {
  /**
   * Memory limit in Compose size syntax (512m, 512M, 512mb, 1.5g) or bytes. At least 6m.
   */
  memory?: string | number;
  /**
   * CPU cores the app may use, such as 1.5.
   */
  cpus?: number;
  /**
   * Maximum number of processes in the container.
   */
  pids?: number;
}

/**
 * hdactl.yaml in the working directory. Flags beat HDACTL_* environment variables, which beat this file.
 */
export interface HdactlConfig {
  /**
   * Directory of app manifests.
   */
  manifests?: string;
  /**
   * Root of the apps' data; relative volume sources live under <dataRoot>/<app>/.
   */
  dataRoot?: string;
  /**
   * Where hdactl keeps its state file and lock.
   */
  stateDir?: string;
  /**
   * Domain of the vhosts: <hostname>.<domain>, a DNS name such as hda.local (letters, digits and '-', dot-separated).
   */
  domain?: string;
  /**
   * Web host port = portBase + app id.
   */
  portBase?: number;
  /**
   * Name of this hdactl instance; it only manages containers labelled with it, so two instances can share an Engine. Letters, digits, '_', '.' and '-', starting with a letter or digit.
   */
  instance?: string;
  /**
   * How many apps are applied in parallel.
   */
  concurrency?: number;
  /**
   * Directory of the managed Apache vhost files.
   */
  vhostDir?: string;
  /**
   * Command that controls Apache (with arguments), or none.
   */
  apachectl?: string;
  /**
   * Port of <VirtualHost *:PORT>.
   */
  vhostPort?: number;
  /**
   * Directory of vhost templates that override the built-in ones.
   */
  templates?: string;
  /**
   * Address of the status server of hdactl run, as ADDR:PORT (an IPv6 address in brackets, such as [::1]:9469), or none.
   */
  listen?: string;
  /**
   * Full resync period of hdactl run: a duration such as 60s, 5m or 500ms.
   */
  resync?: string;
  /**
   * How long one Docker Engine call may wait for its answer before it fails as transient: a duration such as 60s, 2m or 500ms.
   */
  engineTimeout?: string;
  /**
   * pino log level.
   */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Which absolute host paths manifests may mount.
   */
  volumePolicy?: {
    /**
     * Absolute host paths (and everything below them) that volumes may mount, besides relative sources under the data root. /etc/localtime is always allowed.
     *
     * Items: An absolute host path: it starts with /.
     */
    allow?: string[];
  };
}
