/*
 * The laggctl <-> laggd protocol, shared by both programs.
 *
 * A client connects to the unix SOCK_SEQPACKET socket (default /run/laggd.sock), sends its
 * arguments as one message of NUL-terminated words, and receives one message: a status byte
 * (the exit code laggctl returns) followed by text, which laggctl prints to stdout when the
 * status is 0 and to stderr otherwise. All parsing and formatting live in laggd, so laggctl
 * stays a thin pipe and both can never disagree on the vocabulary.
 */
#ifndef LG_PROTO_H
#define LG_PROTO_H

#define LG_MAX_ARGS 256

#endif /* LG_PROTO_H */
