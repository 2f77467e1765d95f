# gdb -p QEMU_PID -batch -x tests/vm/qemu-fenceq.gdb: what QEMU's virtio-gpu-rutabaga holds
# (the commands waiting for a fence, the ones not yet run) and the fences our host library
# holds per context (rtb_debug_dump, to WAYLAND_VIRTGPU_HOST_TRACE's file or QEMU's stderr).
set pagination off
set $rtb = (struct rutabaga *) 'rutabaga.c'::rtb_instance
set $g = (VirtIOGPU *) $rtb->user_data
printf "inflight %u, processing_cmdq %d, renderer_blocked %d\n", $g->inflight, $g->processing_cmdq, $g->parent_obj.renderer_blocked
set $n = 0
set $c = $g->fenceq.tqh_first
while $c
  printf "fenceq: type 0x%x ctx %u flags 0x%x ring %u fence %llu\n", $c->cmd_hdr.type, $c->cmd_hdr.ctx_id, $c->cmd_hdr.flags, $c->cmd_hdr.ring_idx, $c->cmd_hdr.fence_id
  set $n = $n + 1
  set $c = $c->next.tqe_next
end
printf "fenceq: %d commands\n", $n
set $c = $g->cmdq.tqh_first
while $c
  printf "cmdq: type 0x%x ctx %u flags 0x%x ring %u fence %llu\n", $c->cmd_hdr.type, $c->cmd_hdr.ctx_id, $c->cmd_hdr.flags, $c->cmd_hdr.ring_idx, $c->cmd_hdr.fence_id
  set $c = $c->next.tqe_next
end
p *$g->ctrl_vq
# The split ring in guest memory as the guest left it: a guest avail idx past QEMU's
# last_avail_idx with avail_event not past it means a notification was lost.
set $vq = $g->ctrl_vq
set $buf = (unsigned short *) g_malloc0(16)
call (void) cpu_physical_memory_rw($vq->vring.avail, $buf, 4, 0)
printf "guest avail: flags 0x%x idx %u (QEMU last_avail_idx %u)\n", $buf[0], $buf[1], $vq->last_avail_idx
call (void) cpu_physical_memory_rw($vq->vring.avail + 4 + 2 * $vq->vring.num, $buf, 2, 0)
printf "used_event (the guest asks for an interrupt at): %u\n", $buf[0]
call (void) cpu_physical_memory_rw($vq->vring.used, $buf, 4, 0)
printf "used: flags 0x%x idx %u\n", $buf[0], $buf[1]
call (void) cpu_physical_memory_rw($vq->vring.used + 4 + 8 * $vq->vring.num, $buf, 2, 0)
printf "avail_event (QEMU asks for a notification at): %u\n", $buf[0]
call rtb_debug_dump()
thread apply all bt 8
