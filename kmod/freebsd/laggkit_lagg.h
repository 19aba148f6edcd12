/*
 * net/if_lagg.h for if_laggkit: the lagg ioctl structures and constants that let the stock
 * ifconfig(8) configure laggkitN.
 *
 * Under _KERNEL the header also declares lagg(4)'s own softc, which sizes an array with
 * INFINIBAND_ADDR_LEN but does not include the header defining it; include that first.
 * Nothing of lagg(4)'s kernel part is used.
 */
#ifndef LAGGKIT_LAGG_H
#define LAGGKIT_LAGG_H

#include <net/infiniband.h>
#include <net/if_lagg.h>

#endif /* LAGGKIT_LAGG_H */
