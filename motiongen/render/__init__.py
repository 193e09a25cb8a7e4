"""Pictures of motion: stick-figure GIF/MP4/PNG (`stick`) and meshes for 3D viewers (`mesh`).

Both take `Motion` objects and never read motion files; `motiongen.api.render` does the I/O.
"""
