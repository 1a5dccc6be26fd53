/*
 * hashgate: the password hashes in progress on the host (see hashgate.h):
 * one flag per worker slot in a shared page; a worker raises its flag, then
 * counts the raised ones, and lowers it again if they are too many. Two that
 * race both count each other, so the limit is never passed; a dead worker's
 * flag is lowered by the master.
 */
#include "orgd/hashgate.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>

struct gate {
	int limit, slots;
	atomic_char held[]; /* held[slot]: that worker is hashing */
};

static struct gate *gate;
static int my_slot = -1;

int hashgate_init(int slots, int limit)
{
	size_t size = sizeof *gate + (size_t)slots;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	gate = p;
	gate->limit = limit > 0 ? limit : 1;
	gate->slots = slots;
	return 0;
}

void hashgate_worker(int slot)
{
	my_slot = slot;
}

bool hashgate_enter(void)
{
	if (!gate || my_slot < 0 || my_slot >= gate->slots) /* no master (unit tests) */
		return true;
	atomic_store(&gate->held[my_slot], 1);
	int busy = 0;
	for (int i = 0; i < gate->slots; i++)
		busy += atomic_load(&gate->held[i]) != 0;
	if (busy <= gate->limit)
		return true;
	atomic_store(&gate->held[my_slot], 0);
	return false;
}

void hashgate_leave(void)
{
	if (gate && my_slot >= 0 && my_slot < gate->slots)
		atomic_store(&gate->held[my_slot], 0);
}

void hashgate_reap(int slot)
{
	if (gate && slot >= 0 && slot < gate->slots)
		atomic_store(&gate->held[slot], 0);
}
