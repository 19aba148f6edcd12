/**
 * Ansible inventories as deploy reads them: YAML and INI, group nesting, variable precedence
 * (all < parent < child < host), connection variables, and --limit patterns.
 */
import test from 'ava';
import { hostVars, inventoryHosts, limitHosts, parseInventory } from '../../src/deploy/inventory.js';

const INI = `# a fleet Ansible already manages
fw0 ansible_host=192.0.2.9
[bsd]
fbsd1 ansible_host=192.0.2.1 ansible_user=admin ansible_port=2222 ansible_become=true
fbsd2 ansible_host=192.0.2.2 laggkit_laggports="[vtnet1, vtnet2]"
[bsd:vars]
laggkit_laggproto=lacp
laggkit_laggports=em0,em1
laggkit_lacp_fast_timeout=yes
[edge]
nbsd1 ansible_become=true ansible_become_method=doas
[edge:vars]
laggkit_laggproto=failover
laggkit_laggports=wm0
[prod:children]
bsd
edge
[prod:vars]
laggkit_laggproto=loadbalance
laggkit_opts={lacp_sys_prio: 100}
[all:vars]
laggkit_inet=[]
`;

const YAML = `all:
  vars:
    laggkit_laggproto: lacp
  children:
    prod:
      vars:
        laggkit_laggports: [em0, em1]
      children:
        bsd:
          hosts:
            fbsd1: {ansible_host: 192.0.2.1, ansible_user: admin, ansible_port: 2222, ansible_become: true}
            fbsd2:
              ansible_host: 192.0.2.2
              laggkit_spec:
                aggregates:
                  - {name: laggkit1, laggproto: failover, laggports: [vtnet1]}
        edge:
          hosts:
            nbsd1:
          vars:
            laggkit_laggproto: failover
`;

test('INI: groups, children, vars by depth, host vars last; connection variables', (t) => {
  const inv = parseInventory(INI, 'hosts.ini');
  t.deepEqual(limitHosts(inv, undefined), ['fw0', 'fbsd1', 'fbsd2', 'nbsd1']);
  t.is(hostVars(inv, 'fbsd1').laggkit_laggproto, 'lacp', 'the child group (bsd) beats its parent (prod)');
  t.is(hostVars(inv, 'fw0').laggkit_laggproto, undefined);
  const hosts = inventoryHosts(inv, 'prod');
  t.deepEqual(
    hosts.map((h) => [h.name, h.target, h.become ?? '-']),
    [
      ['fbsd1', 'admin@192.0.2.1:2222', 'sudo'],
      ['fbsd2', '192.0.2.2', '-'],
      ['nbsd1', 'nbsd1', 'doas'],
    ],
  );
  t.deepEqual(
    hosts[0]?.spec.aggregates[0]?.ports.map((p) => p.name),
    ['em0', 'em1'],
  );
  t.deepEqual(
    hosts[1]?.spec.aggregates[0]?.ports.map((p) => p.name),
    ['vtnet1', 'vtnet2'],
    'host vars beat group vars',
  );
  t.is(hosts[0]?.spec.aggregates[0]?.lacpFastTimeout, true);
  t.deepEqual(hosts[0]?.spec.aggregates[0]?.opts, { lacp_sys_prio: 100 });
  t.is(hosts[2]?.spec.aggregates[0]?.laggproto, 'failover');
});

test('YAML: the same model; laggkit_spec carries whole aggregates', (t) => {
  const inv = parseInventory(YAML, 'hosts.yaml');
  const hosts = inventoryHosts(inv, undefined);
  t.deepEqual(
    hosts.map((h) => h.target),
    ['admin@192.0.2.1:2222', '192.0.2.2', 'nbsd1'],
  );
  t.is(hosts[1]?.spec.aggregates[0]?.name, 'laggkit1');
  t.is(hosts[2]?.spec.aggregates[0]?.laggproto, 'failover');
});

test('--limit: union, glob, intersection, exclusion; no match is a usage error', (t) => {
  const inv = parseInventory(INI, 'hosts.ini');
  t.deepEqual(limitHosts(inv, 'fbsd*'), ['fbsd1', 'fbsd2']);
  t.deepEqual(limitHosts(inv, 'edge:fw0'), ['fw0', 'nbsd1']);
  t.deepEqual(limitHosts(inv, 'prod:!edge'), ['fbsd1', 'fbsd2']);
  t.deepEqual(limitHosts(inv, 'prod:&bsd:!fbsd2'), ['fbsd1']);
  t.is(t.throws(() => limitHosts(inv, 'nosuch'))?.message.includes('selects no host'), true);
});

test('a host without aggregate settings, and a bad line, are clear errors', (t) => {
  const inv = parseInventory(INI, 'hosts.ini');
  t.regex(t.throws(() => inventoryHosts(inv, 'fw0'))?.message ?? '', /fw0 has no laggkit_spec or laggkit_laggproto/);
  t.regex(t.throws(() => parseInventory('[bsd]\nfbsd1 ansible_host\n', 'bad.ini'))?.message ?? '', /bad\.ini:2: "ansible_host" is not name=value/);
  t.regex(
    t.throws(() => inventoryHosts(parseInventory('[g]\nh laggkit_laggproto=lacp laggkit_laggports=em0;reboot\n', 'x.ini'), undefined))?.message ?? '',
    /laggports\[0\]/,
  );
});
