/*
 * keys: fixed test keys (PEM), shared by the unit tests and the fuzz target.
 * Never used outside tests. Ed25519 private keys are PKCS#8 of fixed seeds.
 */
#ifndef ORGD_TEST_KEYS_H
#define ORGD_TEST_KEYS_H

/* RFC 8037 A.1/A.2 (= RFC 8032 test 1): d and x as in SECURITY.md */
#define KEY_RFC_PRIV                                                                               \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"                       \
	"-----END PRIVATE KEY-----\n"
#define KEY_RFC_PUB                                                                                \
	"-----BEGIN PUBLIC KEY-----\n"                                                             \
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"                           \
	"-----END PUBLIC KEY-----\n"
/* RFC 8037 A.3: the JWK thumbprint of that key */
#define KEY_RFC_KID "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define KEY_RFC_X   "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

/* seed 0x11 x 32: the test ring's signer */
#define KEY_K1_PRIV                                                                                \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MC4CAQAwBQYDK2VwBCIEIBERERERERERERERERERERERERERERERERERERERERER\n"                       \
	"-----END PRIVATE KEY-----\n"
#define KEY_K1_PUB                                                                                 \
	"-----BEGIN PUBLIC KEY-----\n"                                                             \
	"MCowBQYDK2VwAyEA0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=\n"                           \
	"-----END PUBLIC KEY-----\n"

/* seed 0x22 x 32: a second (newer) key */
#define KEY_K2_PRIV                                                                                \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MC4CAQAwBQYDK2VwBCIEICIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIi\n"                       \
	"-----END PRIVATE KEY-----\n"

/* seed 0x33 x 32: an attacker's key, never in our ring */
#define KEY_ATK_PRIV                                                                               \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MC4CAQAwBQYDK2VwBCIEIDMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMz\n"                       \
	"-----END PRIVATE KEY-----\n"
#define KEY_ATK_X "F8t5-ytBIPKx7GXkGY1uCLKOgT_rAeSkAIObheGAgM4"

/* keys that are not Ed25519 */
#define KEY_P256_PRIV                                                                              \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUrythro7GrGP0z/y\n"                       \
	"krAmfQL5HSF/FHUyHNFIxVy2XpOhRANCAASWPhU7mcT9atVa13zNqe4E89H40Ltz\n"                       \
	"JcvG5KXYYPkKR45czj1dC//YMaWjQ/npYAEJkRx/EsiBB82J5WUV18E4\n"                               \
	"-----END PRIVATE KEY-----\n"
#define KEY_X25519_PRIV                                                                            \
	"-----BEGIN PRIVATE KEY-----\n"                                                            \
	"MC4CAQAwBQYDK2VuBCIEIHA8TElqVDXzEZIqhbzT6+PMPpJuy/j3uIdu09+W+RZh\n"                       \
	"-----END PRIVATE KEY-----\n"
#define KEY_X25519_PUB                                                                             \
	"-----BEGIN PUBLIC KEY-----\n"                                                             \
	"MCowBQYDK2VuAyEAVTjYzL3YU2vrhNpefue22COEO1VU40WOf8HRg3QvSWo=\n"                           \
	"-----END PUBLIC KEY-----\n"
#define KEY_ED448_PUB                                                                              \
	"-----BEGIN PUBLIC KEY-----\n"                                                             \
	"MEMwBQYDK2VxAzoAX1hpKorVS31eC8rps94dVcG2lXaeOL68NjJAXQ1xEhZQ6CyJ\n"                       \
	"pt6J5PQGP+nzoLMS0uOc+17K+E8A\n"                                                           \
	"-----END PUBLIC KEY-----\n"

#endif
