// SPDX-License-Identifier: GPL-2.0
/*
 * kmodguard_fixture - a tiny out-of-tree module for kmodguard's tests.
 *
 * It does nothing but log a line when it is loaded and unloaded. Tests use
 * it as a stand-in for an out-of-tree storage driver: build it with Kbuild
 * or DKMS, install it to /lib/modules/KVER/updates, and check that libkmod
 * finds it (and rejects it when its vermagic belongs to another kernel).
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *greeting = "hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "word logged on load and unload (default: hello)");

static int __init kmodguard_fixture_init(void)
{
	pr_info("kmodguard_fixture: loaded, greeting=%s\n", greeting);
	return 0;
}

static void __exit kmodguard_fixture_exit(void)
{
	pr_info("kmodguard_fixture: unloaded, greeting=%s\n", greeting);
}

module_init(kmodguard_fixture_init);
module_exit(kmodguard_fixture_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodguard developers");
MODULE_DESCRIPTION("kmodguard test fixture module");
MODULE_VERSION("1.0");
