/**
 * Validators refuse hostile and malformed values with a UsageError that names the value, and
 * accept the real names BSD systems use.
 */
import test from 'ava';
import { UsageError } from '../../src/cli/errors.js';
import {
  validateAbsPath,
  validateConfKey,
  validateConfValue,
  validateHostName,
  validateIfName,
  validateInt,
  validateModuleName,
  validatePort,
  validateUserName,
} from '../../src/validate/index.js';

function refuses(t: import('ava').ExecutionContext, fn: () => unknown, code: string, shown: string): void {
  const err = t.throws(fn, { instanceOf: UsageError });
  t.is(err?.code, code);
  t.is(err?.exitCode, 2);
  t.true(err?.message.includes(JSON.stringify(shown)), `${err?.message} should show ${shown}`);
  t.truthy(err?.suggestion);
}

test('interface names', (t) => {
  for (const ok of ['em0', 'vtnet1', 'laggkit0', 'lagg0', 'wm0', 'igb10', 'vlan0.100', 'bridge_0', 'a23456789012345']) t.is(validateIfName(ok), ok);
  for (const bad of ['em0;reboot', '$(id)', '`id`', 'em0 up', 'em0\n', '-up', '0em', 'em0/1', "em0'", 'a234567890123456', '']) {
    refuses(t, () => validateIfName(bad), 'E_BAD_IFNAME', bad);
  }
});

test('module names', (t) => {
  for (const ok of ['if_lagg', 'if_laggkit', 'if_laggkit.ko', 'zfs', 'if_lagg.kmod', 'acpi-video']) t.is(validateModuleName(ok), ok);
  for (const bad of ['if_lagg;reboot', '../evil', '/boot/x.ko', 'a b', '$(id)', '', 'x'.repeat(33)])
    refuses(t, () => validateModuleName(bad), 'E_BAD_MODULE', bad);
});

test('absolute paths', (t) => {
  for (const ok of ['/etc/rc.conf', '/boot/loader.conf.d/laggkit.conf', '/', '/tmp/a b/c']) t.is(validateAbsPath(ok), ok);
  for (const bad of ['etc/rc.conf', '/etc/../root', '/etc/rc.conf\nx', '/a\0b', '/a/..', '../x', '/tab\there'])
    refuses(t, () => validateAbsPath(bad), 'E_BAD_PATH', bad);
});

test('numbers in range', (t) => {
  t.is(validateInt('65535', 0, 65535), 65535);
  t.is(validateInt(0, 0, 1), 0);
  t.is(validatePort('22'), 22);
  for (const bad of ['65536', '-1', '1e3', '0x10', '', ' ', '3.5', '99999999999999999999']) refuses(t, () => validateInt(bad, 0, 65535), 'E_BAD_NUMBER', bad);
  refuses(t, () => validatePort('0'), 'E_BAD_NUMBER', '0');
});

test('hosts, users, config keys and values', (t) => {
  t.is(validateHostName('fbsd1.lab.example'), 'fbsd1.lab.example');
  t.is(validateHostName('::1'), '::1');
  for (const bad of ['-oProxyCommand=x', 'a;b', 'a b', '']) refuses(t, () => validateHostName(bad), 'E_BAD_HOST', bad);
  t.is(validateUserName('admin'), 'admin');
  refuses(t, () => validateUserName('root;id'), 'E_BAD_USER', 'root;id');
  t.is(validateConfKey('if_laggkit_load', true), 'if_laggkit_load');
  t.is(validateConfKey('net.link.lagg.default_use_flowid', true), 'net.link.lagg.default_use_flowid');
  refuses(t, () => validateConfKey('net.link.x', false), 'E_BAD_KEY', 'net.link.x');
  refuses(t, () => validateConfKey('x=y', true), 'E_BAD_KEY', 'x=y');
  t.is(validateConfValue('laggproto lacp laggport em0 "quoted"'), 'laggproto lacp laggport em0 "quoted"');
  refuses(t, () => validateConfValue('a\nb'), 'E_BAD_VALUE', 'a\nb');
  refuses(t, () => validateConfValue('a\rb'), 'E_BAD_VALUE', 'a\rb');
  refuses(t, () => validateConfValue('a\0b'), 'E_BAD_VALUE', 'a\0b');
});
