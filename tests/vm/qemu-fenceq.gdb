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
call rtb_debug_dump()
thread apply all bt 8
