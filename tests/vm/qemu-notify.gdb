# gdb -p QEMU_PID -batch -x tests/vm/qemu-notify.gdb: the test of a lost notification on
# virtio-gpu's control queue (qemu-rutabaga-ctrl-notify.patch): QEMU handles the queue as
# if the guest had notified. A guest stalled by a lost notification goes on at once.
set pagination off
set $rtb = (struct rutabaga *) 'rutabaga.c'::rtb_instance
set $g = (VirtIOGPU *) $rtb->user_data
printf "before: last_avail_idx %u\n", $g->ctrl_vq->last_avail_idx
call (void) virtio_queue_notify((VirtIODevice *) $g, 0)
