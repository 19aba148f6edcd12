/* Smoke test of the harness and the core's lifecycle: a host, ports, links, status. */
#include "harness.h"

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0xa0, 0x10 };

static void
test_lifecycle(void)
{
	struct th_host *a = th_host_new("lagg0", mac_a);
	uint32_t p0 = th_port_add(a, "em0", 1000000000ull, 1);
	uint32_t p1 = th_port_add(a, "em1", 1000000000ull, 1);
	struct lk_status st;

	TH_EQ(p0, 0);
	TH_EQ(p1, 1);
	TH_EQ(lk_get_status(a->sc, &st), 0);
	TH_EQ(st.nports, 2);
	TH_EQ(st.active_port, 0);
	TH_CHECK(a->lagg_up);
}

int
main(void)
{
	th_run("lifecycle", test_lifecycle);
	return th_summary();
}
