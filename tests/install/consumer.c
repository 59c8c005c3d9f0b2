/* Built against an installed avflow through pkg-config: proves the install
 * tree (headers, library, avflow.pc) is usable by an outside project. */
#include <stdio.h>

#include <avflow.h>

int main(void) {
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CPU, &n) != AVF_OK || n != 1) {
        fprintf(stderr, "consumer: %s\n", avf_last_error());
        return 1;
    }
    printf("consumer: avflow %s, %d cpu device\n", avf_version(), n);
    return 0;
}
